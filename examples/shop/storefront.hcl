# What shoppers see: tier 2, autoscaled where traffic is spiky.
service "cart" {
  use          = "standard"
  repo         = "acme/cart"
  team         = "storefront"
  port         = 8080
  replicas     = { dev = 1, staging = 2, prod = 6 }
  image_tag    = { default = "1.31.0" }
  expected_rps = { default = 2, prod = 120 }

  probes {
    readiness = "/healthz/ready"
    liveness  = "/healthz/live"
  }

  notify = ["storefront"]

  # The storefront's shared UI kit lives beside the services: a change there rebuilds cart too.
  ci {
    shared_paths = ["libs/storefront-ui"]
  }

  # Instead of the profile's min_available = "50%" (no pod may go at 1 replica in dev): rounded up,
  # so one pod may always go, and 2 of 5 (or 3 of 6) in prod keeps the tier's 50 %.
  pdb {
    max_unavailable = "40%"
  }
}

service "catalog" {
  use       = "standard"
  repo      = "acme/catalog"
  team      = "storefront"
  port      = 8080
  replicas  = { dev = 1, staging = 2, prod = 6 }
  image_tag = { default = "4.0.3" }

  probes {
    readiness = "/healthz/ready"
  }

  resources {
    cpu    = "500m"
    memory = "768Mi"
  }

  notify = ["storefront"]
  # Built and deployed by an AWS CodePipeline from GitHub (through the platform's connection).
  ci {
    system = "codepipeline"
  }

  # Instead of the profile's min_available = "50%" (no pod may go at 1 replica in dev): rounded up,
  # so one pod may always go, and 2 of 5 (or 3 of 6) in prod keeps the tier's 50 %.
  pdb {
    max_unavailable = "40%"
  }
}

service "search" {
  use       = "standard"
  repo      = "acme/search"
  team      = "storefront"
  port      = 9200
  replicas  = { dev = 1, staging = 2, prod = 5 }
  image_tag = { default = "0.18.2" }

  probes {
    readiness = "/ready"
    liveness  = "/live"
    warmup    = "30s"
  }

  hpa {
    cpu_target   = 65
    max_replicas = { default = 4, prod = 24 }
  }

  notify = ["storefront"]

  # Instead of the profile's min_available = "50%" (no pod may go at 1 replica in dev): rounded up,
  # so one pod may always go, and 2 of 5 (or 3 of 6) in prod keeps the tier's 50 %.
  pdb {
    max_unavailable = "40%"
  }
}

service "inventory" {
  use       = "standard"
  repo      = "acme/inventory"
  team      = "fulfilment"
  port      = 8080
  replicas  = { dev = 1, staging = 2, prod = 5 }
  image_tag = { default = "7.2.0" }

  probes {
    readiness = "/health/ready"
    liveness  = "/health/live"
  }

  migrations {
    command = ["./bin/migrate", "up"]
    secret  = "inventory-db-credentials"
    # Additive (expand/contract): the version still serving runs against the new schema.
    backward_compatible = true
  }

  notify = ["storefront"]
  # Built by an AWS CodePipeline from CodeCommit; a repository of its own, so the whole
  # repository is the service (no path filter).
  ci {
    system            = "codepipeline"
    source            = "codecommit"
    path              = "."
    integration_tests = "./gradlew integrationTest"
    load_test         = "perf/k6/checkout-flow.js"
  }

  # Instead of the profile's min_available = "50%" (no pod may go at 1 replica in dev): rounded up,
  # so one pod may always go, and 2 of 5 (or 3 of 6) in prod keeps the tier's 50 %.
  pdb {
    max_unavailable = "40%"
  }
}

service "shipping" {
  use       = "standard"
  repo      = "acme/shipping"
  team      = "fulfilment"
  port      = 8080
  replicas  = { dev = 1, staging = 2, prod = 5 }
  image_tag = { default = "2.6.1" }

  probes {
    readiness = "/health/ready"
  }

  aws_policies = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]

  # Instead of the profile's min_available = "50%" (no pod may go at 1 replica in dev): rounded up,
  # so one pod may always go, and 2 of 5 (or 3 of 6) in prod keeps the tier's 50 %.
  pdb {
    max_unavailable = "40%"
  }
}

service "notification" {
  use          = "internal"
  repo         = "acme/notification-service"
  team         = "platform"
  port         = 8080
  replicas     = { dev = 1, staging = 1, prod = 3 }
  image_tag    = { default = "1.4.0" }
  environments = ["dev", "staging", "prod"]

  probes {
    readiness = "/ready"
  }

  notify = ["platform-alerts"]
}
