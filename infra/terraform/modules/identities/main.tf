# Service accounts that are not tied to one function:
# - tasks_invoker: the identity Cloud Tasks signs OIDC tokens as when it calls fulfill. It holds
#   no project role: its only grant is roles/run.invoker on fulfill (granted in the function
#   module), and the accounts that create OIDC tasks get iam.serviceAccountUser on it here.
# - scheduler: the identity Cloud Scheduler signs OIDC tokens as for the reconcile job. It
#   holds no project role: its only grant is roles/run.invoker on reconcile (granted in the
#   function module).
# - builder: the account Cloud Build uses to build the function images (see modules/build).
# Per-function runtime accounts are created by each function's module.

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
  description = "Project that owns the accounts."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the account ids (account ids are 6-30 characters)."
  type        = string
  default     = "mp"
}

locals {
  accounts = {
    tasks_invoker = "Cloud Tasks OIDC caller of fulfill"
    scheduler     = "Cloud Scheduler OIDC caller of reconcile"
    builder       = "Cloud Build account building the functions"
  }
  ids = {
    tasks_invoker = "${var.name_prefix}-tasks-invoker"
    scheduler     = "${var.name_prefix}-scheduler"
    builder       = "${var.name_prefix}-fn-builder"
  }
}

resource "google_service_account" "this" {
  for_each = local.accounts

  project      = var.project_id
  account_id   = local.ids[each.key]
  display_name = each.value
  description  = each.value
}

output "tasks_invoker_email" {
  description = "Cloud Tasks OIDC account e-mail (TASKS_SERVICE_ACCOUNT, FULFILL_ALLOWED_SERVICE_ACCOUNT)."
  value       = google_service_account.this["tasks_invoker"].email
}

output "tasks_invoker_id" {
  description = "Cloud Tasks OIDC account resource id (for iam.serviceAccountUser grants)."
  value       = google_service_account.this["tasks_invoker"].name
}

output "scheduler_email" {
  description = "Cloud Scheduler OIDC account e-mail (the reconcile job's oidc_token, RECONCILE_ALLOWED_SERVICE_ACCOUNT)."
  value       = google_service_account.this["scheduler"].email
}

output "scheduler_id" {
  description = "Cloud Scheduler OIDC account resource id."
  value       = google_service_account.this["scheduler"].name
}

output "builder_email" {
  description = "Function build account e-mail."
  value       = google_service_account.this["builder"].email
}

output "builder_id" {
  description = "Function build account resource id (build_config.service_account)."
  value       = google_service_account.this["builder"].id
}
