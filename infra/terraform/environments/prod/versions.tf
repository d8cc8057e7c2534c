terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
    time = {
      source  = "hashicorp/time"
      version = "0.13.1"
    }
  }

  # State in a GCS bucket created once by hand (docs/deploying.md); bucket and prefix come
  # from a per-environment file: terraform init -backend-config=backend.hcl
  backend "gcs" {}
}
