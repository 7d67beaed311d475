# Tier 2: customer-facing services that can degrade briefly without losing money.
profile "standard" {
  tier = 2

  resources {
    cpu    = "250m"
    memory = "256Mi"
  }

  canary {
    steps              = [10, 50, 100]
    pauses             = ["5m", "5m"]
    analysis_from_step = 1
  }

  blue_green {
    scale_down_delay = "2m"
  }

  slo {
    max_error_rate = "2%"
    p99_latency    = "800ms"
    interval       = "1m"
    failure_limit  = 2
  }

  pdb {
    min_available = "50%"
  }

  limits {
    max_rollback    = "10m"
    max_exposure    = "20%"
    min_pdb         = "50%"
    max_deploy_time = "30m"
  }
}
