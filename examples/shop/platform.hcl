# The shop platform: one AWS account, a shared non-prod EKS cluster and a prod cluster.
platform {
  name            = "shop"
  aws_account_id  = "123456789012"
  region          = "eu-west-1"
  github_org      = "acme"
  ecr_keep_images = 50
  prometheus      = "http://prometheus.monitoring.svc.cluster.local:9090"
  # For services built by CodePipeline: the GitHub connection (created and approved once in the
  # console) and the image of their deploy and test projects (glidepath, kubectl, the Argo
  # Rollouts kubectl plugin and k6).
  codestar_connection = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/4f7c2a9e-3b1d-4e8f-9a6c-2d5e7b1f0c3a"
  pipeline_image      = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/glidepath-deployer:0.1.0"
  # This catalog's repository: each service's deploy jobs commit their promotions here. They
  # run in the services' own repositories, whose GITHUB_TOKEN cannot write this one: they push
  # with the token in this secret (a GitHub App installation token or fine-grained token with
  # contents and pull-requests write on acme/platform).
  catalog_repo           = "acme/platform"
  promotion_token_secret = "GLIDEPATH_PROMOTION_TOKEN"
  # The CodePipeline services (catalog from acme/catalog, inventory from CodeCommit) build outside
  # acme/platform too: their deploy projects clone it and push with the token in this AWS Secrets
  # Manager secret (a fine-grained token with contents write on acme/platform).
  pipeline_promotion_token_secret = "glidepath/promotion-token"
  # The workflows' deploy jobs install glidepath from acme's release of it (by default
  # https://github.com/acme/glidepath/releases/download/vVERSION/…); pin the checksum that
  # scripts/release printed with `glidepath_sha256 = "…"` so they refuse any other binary.
}

cluster "nonprod" {
  eks_name     = "shop-nonprod"
  kube_context = "shop-nonprod"
  # Pinned so plans need no eks:DescribeCluster; leave it out to have glidepath read it.
  oidc_issuer = "oidc.eks.eu-west-1.amazonaws.com/id/9A1F3C7E5B2D4E6F8A0B1C2D3E4F5A6B"
}

cluster "prod" {
  eks_name     = "shop-prod"
  kube_context = "shop-prod"
  oidc_issuer  = "oidc.eks.eu-west-1.amazonaws.com/id/5C3D8E2A9B7F41E6A0D2C4B1F8E7A6D5"
}

# Declaration order is promotion order: dev → staging → prod.
environment "dev" {
  cluster   = "nonprod"
  namespace = "shop-dev"
  strategy  = "canary"
}

environment "staging" {
  cluster   = "nonprod"
  namespace = "shop-staging"
  strategy  = "blue_green"
}

environment "prod" {
  cluster   = "prod"
  namespace = "shop"
  strategy  = "canary"
  approval  = true
  # The AWS Load Balancer Controller's ALB splits canary traffic by weight, so a 5 % step is
  # 5 % of requests whatever the replica count (one ALB for the environment, a host per service).
  traffic {
    router      = "alb"
    domain      = "shop.acme.example"
    scheme      = "internet-facing"
    certificate = "arn:aws:acm:eu-west-1:123456789012:certificate/7d2c9f4e-1a3b-4c5d-8e6f-0a1b2c3d4e5f"
  }
}

notification "payments-oncall" {
  slack  = "#payments-oncall"
  email  = ["payments-oncall@acme.example"]
  events = ["rollout-aborted", "analysis-run-failed", "analysis-run-error", "rollout-completed"]
}

notification "storefront" {
  slack  = "#storefront-deploys"
  events = ["rollout-aborted", "rollout-completed"]
}

notification "platform-alerts" {
  webhook = "$platform-webhook-url"
  https   = ["https://alerts.acme.example/sns"]
  events  = ["rollout-aborted", "analysis-run-failed"]
}
