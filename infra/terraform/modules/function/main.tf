# One HTTP Cloud Run function (google_cloudfunctions2_function) with everything that belongs
# to it alone: its runtime service account, the source object it is built from, its secret
# mounts, the roles its code needs (each on the narrowest resource), and who may invoke it.
# The stack instantiates this module once per function.

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
}

variable "project_id" {
  description = "Project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name = entry point (target) = the NAME in entry_NAME.py (docs/contracts.md)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,40}$", var.name))
    error_message = "Function names are lower-case letters, digits and underscores."
  }
}

variable "description" {
  description = "What the function does and who calls it."
  type        = string
}

variable "account_prefix" {
  description = "Prefix of the runtime service account id."
  type        = string
  default     = "mp-fn"
}

variable "source_bucket" {
  description = "Bucket the deploy zip is uploaded to."
  type        = string
}

variable "package" {
  description = "The deploy zip built by tools/build_package.py: its local path and sha256 (hex). The object is named <name>/<sha256>.zip, so new code means a new object and a new build."
  type = object({
    path   = string
    sha256 = string
  })
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.package.sha256))
    error_message = "package.sha256 must be a lower-case hex sha256."
  }
}

variable "builder_id" {
  description = "Full id (projects/P/serviceAccounts/E) of the account Cloud Build builds the function as."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository id for the built image."
  type        = string
}

variable "environment" {
  description = "Runtime environment variables (secrets excluded: see `secrets`)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Env var NAME => Secret Manager secret id. Each is mounted at /etc/secrets/<secret-id>/value and NAME_FILE points there; the function's account gets secretAccessor on that secret only."
  type        = map(string)
  default     = {}
}

variable "firestore_database" {
  description = "projects/P/databases/D the function reads and writes, or null when its code does not use Firestore (no Firestore role then)."
  type        = string
  default     = null
}

variable "enqueue_queues" {
  description = "Logical name => full queue id the function creates tasks in (roles/cloudtasks.enqueuer on each queue only)."
  type        = map(string)
  default     = {}
}

variable "act_as" {
  description = "Logical name => service account resource id the function must act as (roles/iam.serviceAccountUser on that account only), e.g. the Cloud Tasks OIDC account for tasks it creates with an OIDC token."
  type        = map(string)
  default     = {}
}

variable "public" {
  description = "Grant roles/run.invoker to allUsers (only for endpoints the internet must reach and that authenticate requests themselves)."
  type        = bool
  default     = false
}

variable "all_users_invoker" {
  description = "With `public`: grant roles/run.invoker to allUsers. false where the organization's domain-restricted sharing refuses allUsers; the service is then made public by turning off Cloud Run's invoker IAM check with gcloud (docs/deploying.md)."
  type        = bool
  default     = true
}

variable "invokers" {
  description = "Logical name => IAM member granted roles/run.invoker on this function's service."
  type        = map(string)
  default     = {}
}

variable "memory" {
  description = "available_memory, e.g. 512Mi."
  type        = string
}

variable "cpu" {
  description = "available_cpu; concurrency above 1 needs at least \"1\"."
  type        = string
}

variable "concurrency" {
  description = "max_instance_request_concurrency (also gunicorn THREADS)."
  type        = number
}

variable "min_instances" {
  description = "min_instance_count (warm instances: latency vs. cost)."
  type        = number
}

variable "max_instances" {
  description = "max_instance_count (cost and downstream load ceiling)."
  type        = number
}

variable "timeout_seconds" {
  description = "Request timeout."
  type        = number
}

variable "ingress" {
  description = "ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  type        = string
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "Unknown ingress setting."
  }
}

variable "iam_propagation_wait" {
  description = "Wait between the runtime account's grants and the function's creation (IAM propagation), e.g. 90s."
  type        = string
  default     = "90s"
}

variable "labels" {
  description = "Labels on the function."
  type        = map(string)
  default     = {}
}

locals {
  member = "serviceAccount:${google_service_account.runtime.email}"
  secret_env = {
    for env_name, secret_id in var.secrets : "${env_name}_FILE" => "/etc/secrets/${secret_id}/value"
  }
}

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.account_prefix}-${replace(var.name, "_", "-")}"
  display_name = "Runtime of the ${var.name} function"
  description  = var.description
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.member
}

# Firestore has no per-collection IAM; the condition limits the role to this one database.
resource "google_project_iam_member" "datastore_user" {
  count = var.firestore_database == null ? 0 : 1

  project = var.project_id
  role    = "roles/datastore.user"
  member  = local.member

  condition {
    title       = "only-${replace(var.name, "_", "-")}-database"
    description = "Firestore access limited to the application's database."
    expression  = "resource.name == \"${var.firestore_database}\""
  }
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = var.enqueue_queues

  project  = var.project_id
  location = var.region
  name     = each.value
  role     = "roles/cloudtasks.enqueuer"
  member   = local.member
}

resource "google_service_account_iam_member" "act_as" {
  for_each = var.act_as

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.member
}

# IAM grants take time to reach every Google service (typically under a minute, sometimes
# several). A revision that starts before its account may read its secrets, or a build that
# runs before the grants are seen, fails with a permission error. So the function is created
# only after this wait, which starts once every grant of this module exists. A change of the
# grants (another secret, queue or account) waits again before the function is updated.
resource "time_sleep" "iam_propagation" {
  create_duration = var.iam_propagation_wait

  triggers = {
    grants = sha256(jsonencode({
      secrets   = var.secrets
      firestore = var.firestore_database
      queues    = var.enqueue_queues
      act_as    = var.act_as
    }))
  }

  depends_on = [
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.datastore_user,
    google_cloud_tasks_queue_iam_member.enqueuer,
    google_service_account_iam_member.act_as,
  ]
}

resource "google_storage_bucket_object" "source" {
  bucket       = var.source_bucket
  name         = "${var.name}/${var.package.sha256}.zip"
  source       = var.package.path
  content_type = "application/zip"

  lifecycle {
    precondition {
      condition     = filesha256(var.package.path) == var.package.sha256
      error_message = "The zip at package.path does not have package.sha256: rebuild the packages (make package) and plan again."
    }
  }
}

resource "google_cloudfunctions2_function" "this" {
  # checkov:skip=CKV_GCP_124: ingress is chosen per function: ALLOW_ALL only where the internet must reach it (create_payment: browsers, ipn_webhook: Mercado Pago), ALLOW_INTERNAL_ONLY for fulfill (Cloud Tasks) and reconcile (Cloud Scheduler); the precondition below refuses ALLOW_ALL on any function that is not public. (checkov evaluates one instance of a module called several times, so a per-instance result would be arbitrary.)
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime     = "python312"
    entry_point = var.name
    # The buildpack loads this file from the package root; it imports only this function's
    # modules (a nested functions/<name>/main.py could not import `shared`).
    environment_variables = {
      GOOGLE_FUNCTION_SOURCE = "entry_${var.name}.py"
    }
    service_account   = var.builder_id
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = google_storage_bucket_object.source.bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    max_instance_request_concurrency = var.concurrency
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    timeout_seconds                  = var.timeout_seconds
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime.email

    environment_variables = merge(
      var.environment,
      local.secret_env,
      {
        GOOGLE_CLOUD_PROJECT = var.project_id
        # gunicorn threads = request concurrency, so every admitted request gets a thread.
        THREADS = tostring(var.concurrency)
      },
    )

    # Mounted, not injected as env vars: each read of the file fetches the latest version,
    # so a rotated secret reaches warm instances (within SECRET_CACHE_TTL_SECONDS).
    dynamic "secret_volumes" {
      for_each = var.secrets
      content {
        mount_path = "/etc/secrets/${secret_volumes.value}"
        project_id = var.project_id
        secret     = secret_volumes.value
        versions {
          version = "latest"
          path    = "value"
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.concurrency == 1 || tonumber(var.cpu) >= 1
      error_message = "Concurrency above 1 needs at least 1 vCPU."
    }
    precondition {
      condition     = var.public || var.ingress != "ALLOW_ALL"
      error_message = "A function that is not public must not accept traffic from the internet: use ALLOW_INTERNAL_ONLY."
    }
  }

  # The runtime account must be able to read its secrets when the first revision starts, and
  # its other grants must have propagated (see time_sleep.iam_propagation).
  depends_on = [google_secret_manager_secret_iam_member.accessor, time_sleep.iam_propagation]
}

# Anyone may call the function: that is the point for the public endpoints, and `public` is
# true only for create_payment and ipn_webhook (see the stack). In an organization that
# enforces domain-restricted sharing (constraint iam.allowedPolicyMemberDomains) this grant
# fails with "One or more users named in the policy do not belong to a permitted customer";
# docs/deploying.md ("Organizations that restrict allUsers") shows the project-level policy
# exception and the alternative: all_users_invoker = false (no grant) and Cloud Run's invoker
# IAM check turned off with gcloud, for which google_cloudfunctions2_function has no attribute. checkov 3.3.30's public-access
# check (CKV_GCP_102) covers google_cloud_run_service_iam_*, not the v2 resource; the skip
# states the intent for when it does.
resource "google_cloud_run_v2_service_iam_member" "public" {
  # checkov:skip=CKV_GCP_102: public invocation is intended: create_payment is called by shoppers' browsers and ipn_webhook by Mercado Pago; both authenticate requests themselves (validation, x-signature HMAC).
  count = var.public && var.all_users_invoker ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

output "uri" {
  description = "The function's HTTPS URL (the Cloud Run service URL; also the OIDC audience)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service" {
  description = "Name of the Cloud Run service behind the function."
  value       = google_cloudfunctions2_function.this.service_config[0].service
}

output "service_account_email" {
  description = "The function's runtime service account."
  value       = google_service_account.runtime.email
}

output "source_object" {
  description = "gs:// path of the zip the function runs (its name carries the sha256)."
  value       = "gs://${google_storage_bucket_object.source.bucket}/${google_storage_bucket_object.source.name}"
}
