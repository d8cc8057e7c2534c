# Turns on the Google APIs the deployment uses. Disabling on destroy is off: a `terraform
# destroy` of this stack must not switch off APIs that other things in the project may use.

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
  description = "Project to enable the APIs in."
  type        = string
}

variable "services" {
  description = "API service names to enable."
  type        = list(string)
  default = [
    "artifactregistry.googleapis.com", # function images
    "cloudbuild.googleapis.com",       # function builds
    "cloudfunctions.googleapis.com",   # google_cloudfunctions2_function
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",      # reconcile job
    "cloudtasks.googleapis.com",          # fulfil and merchant-events queues
    "firebaserules.googleapis.com",       # Firestore deny-all security rules
    "firestore.googleapis.com",           # orders, payments, idempotency
    "iam.googleapis.com",                 # service accounts
    "logging.googleapis.com",             # log-based metrics
    "monitoring.googleapis.com",          # alert policies
    "run.googleapis.com",                 # the services behind the functions
    "recaptchaenterprise.googleapis.com", # create_payment's optional bot check
    "secretmanager.googleapis.com",       # Mercado Pago and merchant secrets
    "storage.googleapis.com",             # function source bucket
  ]
}

resource "google_project_service" "this" {
  for_each = toset(var.services)

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}

output "enabled" {
  description = "The enabled services (depend on this to order resources after API enablement)."
  value       = [for s in google_project_service.this : s.service]
}
