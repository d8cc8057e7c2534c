# Root of the staging environment: one Google Cloud project, the whole stack.

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    managed-by = "terraform"
  }
}

module "stack" {
  source = "../../modules/stack"

  project_id         = var.project_id
  environment        = "staging"
  region             = var.region
  protect            = false
  firestore_location = var.firestore_location
  # "(default)" unless the database was restored into a new one (docs/deploying.md, 11).
  firestore_database_id = var.firestore_database_id
  source_bucket_name    = var.source_bucket_name
  packages              = var.packages

  cors_allowed_origins     = var.cors_allowed_origins
  merchant_webhook_url     = var.merchant_webhook_url
  fulfill_max_attempts     = var.fulfill_max_attempts
  reconcile_schedule       = var.reconcile_schedule
  log_level                = var.log_level
  notification_channel_ids = var.notification_channel_ids
  public_invoker_grant     = var.public_invoker_grant
  attempt_limits           = var.attempt_limits
  recaptcha                = var.recaptcha
  edge                     = var.edge
  domain                   = var.domain

  min_instances = {
    create_payment = 0
    ipn_webhook    = 0
    fulfill        = 0
  }
  max_instances = {
    create_payment = 3
    ipn_webhook    = 3
    fulfill        = 5 # x concurrency 20 >= the fulfil queue's 100 concurrent dispatches (modules/limits)
  }
}

# Cloud Build: the release trigger (push to main) and the pull-request trigger, and their
# accounts (deploy; read-only for pull requests).
module "cicd" {
  source = "../../modules/cicd"
  count  = var.cicd.github_repository == "" ? 0 : 1

  project_id          = var.project_id
  environment         = "staging"
  github_owner        = var.cicd.github_owner
  github_repository   = var.cicd.github_repository
  tf_state_bucket     = var.cicd.tf_state_bucket
  pull_request_builds = true
}
