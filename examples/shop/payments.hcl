# Money paths: tier 1, canary in prod with a 5 % first step.
service "payment-service" {
  use      = "critical"
  repo     = "acme/payment-service"
  team     = "payments"
  port     = 8080
  replicas = { dev = 1, staging = 4, prod = 20 }
  # Usual traffic, so `glidepath check` can tell whether analysis sees enough requests.
  expected_rps = { default = 5, prod = 400 }

  image_tag = {
    dev     = "2.14.0"
    staging = "2.14.0"
    prod    = "2.13.2"
  }

  probes {
    readiness = "/health/ready"
    liveness  = "/health/live"
    warmup    = "20s"
  }

  migrations {
    command = ["flyway", "migrate"]
    secret  = "payment-db-credentials"
    # Additive (expand/contract): the version still serving runs against the new schema.
    backward_compatible = true
  }

  canary {
    steps              = [5, 20, 50, 100]
    pauses             = ["5m", "10m", "10m"]
    analysis_from_step = 1
  }

  slo {
    max_error_rate = "1%"
    p99_latency    = "500ms"
  }

  env = {
    LOG_LEVEL    = "info"
    PSP_ENDPOINT = "https://psp.example.com/v2"
  }

  notify = ["payments-oncall", "platform-alerts"]
  ci {
    trust = "environment"
  }

  # Instead of the profile's min_available = "80%", which rounds up: at 1 or 4 replicas
  # no pod may go and node drains hang. Also rounded up, so one pod may always go; keeps 80 % of 20.
  pdb {
    max_unavailable = "20%"
  }
}

service "checkout" {
  use          = "critical"
  repo         = "acme/checkout"
  team         = "payments"
  port         = 8080
  replicas     = { dev = 1, staging = 3, prod = 12 }
  image_tag    = { default = "5.2.1" }
  expected_rps = { default = 5, prod = 250 }

  probes {
    readiness = "/ready"
    liveness  = "/live"
  }

  notify = ["payments-oncall"]
  ci {
    trust = "environment"
  }

  # Instead of the profile's min_available = "80%" (no pod may go at 1 or 3 replicas): one pod
  # may always go, and 2 of 12 in prod keeps the tier's 80 %.
  pdb {
    max_unavailable = "10%"
  }
}

service "order" {
  use       = "critical"
  repo      = "acme/order-service"
  team      = "orders"
  port      = 8081
  replicas  = { dev = 1, staging = 2, prod = 20 }
  image_tag = { default = "3.9.0", prod = "3.8.4" }

  probes {
    readiness = "/actuator/health/readiness"
    liveness  = "/actuator/health/liveness"
    warmup    = "45s"
  }

  migrations {
    command = ["flyway", "-connectRetries=10", "migrate"]
    secret  = "order-db-credentials"
    # Additive (expand/contract): the version still serving runs against the new schema.
    backward_compatible = true
  }

  notify = ["payments-oncall"]
  ci {
    trust = "environment"
  }

  # Instead of the profile's min_available = "80%" (no pod may go at 1 or 2 replicas): one pod
  # may always go, and 4 of 20 in prod keeps the tier's 80 %.
  pdb {
    max_unavailable = "20%"
  }
}
