# Tier 3: internal and asynchronous services (workers, notifications); quick rollouts.
profile "internal" {
  tier = 3

  resources {
    cpu    = "100m"
    memory = "128Mi"
  }

  canary {
    steps  = [25, 100]
    pauses = ["2m"]
  }

  slo {
    max_error_rate = "5%"
    p99_latency    = "2s"
    interval       = "1m"
    failure_limit  = 3
  }

  pdb {
    max_unavailable = 1
  }

  limits {
    max_rollback    = "15m"
    max_exposure    = "50%"
    max_deploy_time = "20m"
  }
}
