# The deployer image: what CodePipeline's deploy and test projects run in (`platform {
# pipeline_image }`), and what a workflow could run in. It holds glidepath, kubectl, the Argo
# Rollouts kubectl plugin and k6, each at a pinned version and verified:
#   - kubectl, kubectl-argo-rollouts, k6: built from source by scripts/deployer-tools at the
#     versions of templates/tools.yaml; the Go checksum database verifies every module.
#     tests/tools.rs fails when the ARGs below and the table disagree.
#   - glidepath: the release scripts/release builds and you publish, refused unless its sha256
#     is GLIDEPATH_SHA256 (the same URL and checksum the catalog's platform block names).
#   - the AWS CLI, git, curl: Debian packages, verified by apt against Debian's signed indexes.
# It lives under scripts/ because the repository's top level is fixed. Build from the
# repository root:
#   docker build -f scripts/deployer.Dockerfile \
#     --build-arg GLIDEPATH_URL=https://github.com/acme/glidepath/releases/download/v0.1.0/glidepath-0.1.0-x86_64-linux \
#     --build-arg GLIDEPATH_SHA256="$(cut -d' ' -f1 dist/glidepath-0.1.0-x86_64-linux.sha256)" \
#     --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/glidepath-deployer:0.1.0 .

# Base images by tag: pin them by digest (`golang:1.25-bookworm@sha256:…`) once your registry
# mirror has them; their digests cannot be looked up from where glidepath is developed.
FROM golang:1.25-bookworm AS tools
ARG KUBECTL_VERSION=v1.34.1
ARG ROLLOUTS_VERSION=v1.9.1
ARG K6_VERSION=v1.1.0
RUN apt-get update && apt-get install --yes --no-install-recommends jq && rm -rf /var/lib/apt/lists/*
COPY scripts/deployer-tools /usr/local/bin/deployer-tools
# GOSUMDB stays at its default (sum.golang.org); deployer-tools refuses to build without it.
RUN deployer-tools /out "$KUBECTL_VERSION" "$ROLLOUTS_VERSION" "$K6_VERSION"

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install --yes --no-install-recommends awscli ca-certificates curl git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=tools /out/kubectl /out/kubectl-argo-rollouts /out/k6 /usr/local/bin/
ARG GLIDEPATH_URL
ARG GLIDEPATH_SHA256
RUN test -n "$GLIDEPATH_URL" && test -n "$GLIDEPATH_SHA256" \
 && curl --fail --silent --show-error --location --retry 3 --output /usr/local/bin/glidepath "$GLIDEPATH_URL" \
 && echo "$GLIDEPATH_SHA256  /usr/local/bin/glidepath" | sha256sum --check --strict - \
 && chmod 0755 /usr/local/bin/glidepath \
 && glidepath --version && kubectl version --client && kubectl argo rollouts version --short && k6 version
# No USER: CodeBuild runs buildspec commands as the image's user and needs root for its own
# setup (source download, credential helper); the projects run no privileged mode.
