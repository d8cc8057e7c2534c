# Where the functions are built from and into:
# - a private bucket holding the deploy zips, one object per content hash
#   (<function>/<sha256>.zip), versioned so that an object a deploy replaced can be restored;
# - an Artifact Registry repository for the function images, so the build account's write
#   access can be granted on that repository alone;
# - the roles the dedicated build account needs (since mid-2024 new projects may build with
#   a default account that lacks them).

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
  description = "Project of the bucket and repository."
  type        = string
}

variable "region" {
  description = "Region of the bucket and repository (the functions' region)."
  type        = string
}

variable "source_bucket_name" {
  description = "Globally unique name of the source bucket."
  type        = string
}

variable "builder_email" {
  description = "E-mail of the function build account."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its objects (staging only)."
  type        = bool
  default     = false
}

variable "noncurrent_retention_days" {
  description = "Days a replaced zip version is kept (rollback window for restoring an old object)."
  type        = number
  default     = 90
}

variable "iam_propagation_wait" {
  description = "Wait after the build account's grants before anything may build with it (IAM propagation), e.g. 90s."
  type        = string
  default     = "90s"
}

variable "labels" {
  description = "Labels on the bucket and repository."
  type        = map(string)
  default     = {}
}

resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62: access logs of a bucket only Terraform and the function builds read are covered by Cloud Audit Logs; a separate log bucket adds nothing.
  project                     = var.project_id
  name                        = var.source_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84: images hold only this open-source code and its public dependencies (no secrets: those are mounted from Secret Manager at run time); Google-managed encryption is enough, and a customer key would add a KMS key ring whose loss makes every image unreadable.
  project       = var.project_id
  location      = var.region
  repository_id = "functions"
  format        = "DOCKER"
  description   = "Images built from the function sources."
  labels        = var.labels

  # Only the images of the last few deploys are ever run or rolled back to.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
}

# The build account writes build logs (project level: logs have no narrower resource)...
resource "google_project_iam_member" "builder_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${var.builder_email}"
}

# ...pushes images to this repository only...
resource "google_artifact_registry_repository_iam_member" "builder_writer" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${var.builder_email}"
}

# ...and reads the function source. Cloud Functions copies the zip into a bucket it creates
# itself (gcf-v2-sources-<project number>-<region>), whose name Terraform does not manage, so
# the documented grant is project-level Storage Object Admin; an IAM condition limits it to
# that bucket family and the project's own source bucket (Cloud Storage resource names:
# projects/_/buckets/B and projects/_/buckets/B/objects/O).
resource "google_project_iam_member" "builder_object_admin" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${var.builder_email}"

  condition {
    title       = "function-source-buckets-only"
    description = "The function source bucket and Cloud Functions' gcf-v2-sources-* buckets."
    expression  = "resource.name == \"projects/_/buckets/${google_storage_bucket.sources.name}\" || resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.sources.name}/\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
  }
}

# The first function builds of a fresh project fail with permission errors when they run
# before the build account's grants have propagated. Every function builds with
# docker_repository (below), which is available only after this wait.
resource "time_sleep" "builder_iam_propagation" {
  create_duration = var.iam_propagation_wait

  depends_on = [
    google_project_iam_member.builder_log_writer,
    google_artifact_registry_repository_iam_member.builder_writer,
    google_project_iam_member.builder_object_admin,
  ]
}

output "source_bucket" {
  description = "Name of the source bucket."
  value       = google_storage_bucket.sources.name
}

output "docker_repository" {
  description = "Artifact Registry repository id (build_config.docker_repository). Available only once the build account holds its roles and they have had time to propagate, so functions that use it build after that."
  value       = google_artifact_registry_repository.functions.id
  depends_on  = [time_sleep.builder_iam_propagation]
}
