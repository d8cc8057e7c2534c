# Secret Manager secrets, created WITHOUT any version: no secret value ever passes through
# Terraform or its state. Values are added by an operator with `gcloud secrets versions add`
# (see docs/deploying.md). Access is granted per secret, to the exact accounts that mount it.

terraform {
  required_version = ">= 1.11"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
  }
}

variable "project_id" {
  description = "Project that owns the secrets."
  type        = string
}

variable "secret_ids" {
  description = "Secret ids to create (docs/contracts.md)."
  type        = list(string)
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}

resource "google_secret_manager_secret" "this" {
  for_each = toset(var.secret_ids)

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  # Google-managed replication: the functions run in one region, and automatic replication
  # has no location constraint to keep in sync with it.
  replication {
    auto {}
  }
}

output "ids" {
  description = "Secret id => full resource id."
  value       = { for k, s in google_secret_manager_secret.this : k => s.id }
}

output "secret_ids" {
  description = "Secret id => secret id, read from the created secrets: referencing it orders a consumer after the secret's creation."
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}
