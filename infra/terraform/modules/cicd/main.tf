# Cloud Build for one environment: the release trigger (staging: push to main; prod: a release
# tag, waiting for approval), the pull-request trigger, and one service account each.
#
# Least privilege: only the release trigger runs as the deploy account; pull-request builds
# (anyone's code) run as an account with read roles only: they run `make test` and
# `terraform plan -lock=false` (cloudbuild-pr.yaml), and can change nothing, so
# cloudbuild.yaml's plan/apply split is not the only guard.
#
# Connecting the GitHub repository to Cloud Build (the Cloud Build GitHub App, once per
# project) is a manual step: docs/deploying.md, 9. The triggers fail to create until it is done.

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
  description = "The environment's project, where its builds run."
  type        = string
}

variable "environment" {
  description = "staging (released from main) or prod (released from a tag, with approval)."
  type        = string
  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment is staging or prod."
  }
}

variable "github_owner" {
  description = "GitHub owner (user or organization) of the connected repository."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository name (connected to Cloud Build by hand)."
  type        = string
}

variable "tf_state_bucket" {
  description = "The Terraform state bucket (_TF_STATE_BUCKET): read by pull-request plans, written by releases."
  type        = string
}

variable "pull_request_builds" {
  description = "Create the pull-request trigger (one environment is enough: staging)."
  type        = bool
  default     = false
}

variable "deploy_roles" {
  description = "Project roles of the deploy account: what applying this Terraform needs (docs/deploying.md, 9)."
  type        = list(string)
  default = [
    "roles/serviceusage.serviceUsageAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/resourcemanager.projectIamAdmin",
    "roles/secretmanager.admin",
    "roles/datastore.owner",
    "roles/cloudtasks.admin",
    "roles/cloudscheduler.admin",
    "roles/cloudfunctions.admin",
    "roles/run.admin",
    "roles/storage.admin",
    "roles/artifactregistry.admin",
    "roles/logging.configWriter",
    "roles/logging.logWriter",
    "roles/monitoring.editor",
    "roles/recaptchaenterprise.admin",
    "roles/firebaserules.admin",
    "roles/cloudbuild.builds.editor",
  ]
}

variable "pull_request_roles" {
  description = "Project roles of the pull-request account: reading what a plan refreshes, writing build logs."
  type        = list(string)
  default = [
    "roles/viewer",
    "roles/iam.securityReviewer",
    "roles/logging.logWriter",
  ]
}

locals {
  release_tag = "^v[0-9.]+$"
}

resource "google_service_account" "deploy" {
  project      = var.project_id
  account_id   = "ci-deploy"
  display_name = "Cloud Build releases (${var.environment}): applies Terraform"
}

resource "google_service_account" "pull_request" {
  project      = var.project_id
  account_id   = "ci-pull-request"
  display_name = "Cloud Build pull requests (${var.environment}): read-only"
}

resource "google_project_iam_member" "deploy" {
  # checkov:skip=CKV_GCP_41: the deploy account applies this Terraform, which creates function accounts and jobs that act as them (serviceAccountUser); only the release trigger runs as it.
  # checkov:skip=CKV_GCP_49: the deploy account creates and grants the functions' accounts (Service Account Admin, Project IAM Admin): that is what applying the stack does; only the release trigger runs as it.
  for_each = toset(var.deploy_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.deploy.email}"
}

resource "google_project_iam_member" "pull_request" {
  # checkov:skip=CKV_GCP_117: roles/viewer is read-only and is the one role that reads every resource type a plan refreshes (functions, run services, queues, scheduler, Firestore, secrets metadata, monitoring); the account cannot change anything.
  for_each = toset(var.pull_request_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.pull_request.email}"
}

resource "google_storage_bucket_iam_member" "deploy_state" {
  bucket = var.tf_state_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.deploy.email}"
}

resource "google_storage_bucket_iam_member" "pull_request_state" {
  bucket = var.tf_state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.pull_request.email}"
}

# staging: every push to main; prod: a release tag, held until someone with
# roles/cloudbuild.builds.approver approves it.
resource "google_cloudbuild_trigger" "release" {
  project         = var.project_id
  name            = "release-${var.environment}"
  description     = var.environment == "prod" ? "Release tag: test, plan and (after approval) apply prod" : "Push to main: test, plan and apply staging"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.deploy.id

  github {
    owner = var.github_owner
    name  = var.github_repository
    push {
      branch = var.environment == "staging" ? "^main$" : null
      tag    = var.environment == "prod" ? local.release_tag : null
    }
  }

  substitutions = {
    _ENV             = var.environment
    _APPLY           = "true"
    _TF_STATE_BUCKET = var.tf_state_bucket
  }

  approval_config {
    approval_required = var.environment == "prod"
  }
}

# Pull requests to main: tests and a read-only plan, under the read-only account.
resource "google_cloudbuild_trigger" "pull_request" {
  count = var.pull_request_builds ? 1 : 0

  project         = var.project_id
  name            = "pull-request-${var.environment}"
  description     = "Pull request: tests and a read-only plan of ${var.environment}"
  filename        = "cloudbuild-pr.yaml"
  service_account = google_service_account.pull_request.id

  github {
    owner = var.github_owner
    name  = var.github_repository
    pull_request {
      branch          = "^main$"
      comment_control = "COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"
    }
  }

  substitutions = {
    _ENV             = var.environment
    _TF_STATE_BUCKET = var.tf_state_bucket
  }
}

output "deploy_service_account" {
  description = "The release builds' account."
  value       = google_service_account.deploy.email
}

output "pull_request_service_account" {
  description = "The pull-request builds' read-only account."
  value       = google_service_account.pull_request.email
}
