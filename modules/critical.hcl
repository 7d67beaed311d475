# Tier 1: services whose failure stops the business (payments, checkout).
# Small first step, analysis from the very first step, long observation, strict PDB.
profile "critical" {
  tier = 1

  resources {
    cpu          = "500m"
    memory       = "512Mi"
    memory_limit = "1Gi"
  }

  canary {
    steps              = [5, 20, 50, 100]
    pauses             = ["5m", "10m", "10m"]
    analysis_from_step = 1
    max_surge          = "25%"
  }

  blue_green {
    scale_down_delay = "5m"
  }

  slo {
    max_error_rate = "1%"
    p99_latency    = "500ms"
    interval       = "1m"
    failure_limit  = 1
  }

  pdb {
    min_available = "80%"
  }

  # Checked by `glidepath check` (and every plan) where the environment enforces limits.
  limits {
    max_rollback    = "3m"
    max_exposure    = "5%"
    min_pdb         = "80%"
    max_deploy_time = "45m"
  }
}
