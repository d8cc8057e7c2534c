# The staging environment's settings: committed, read by the deploy guide's commands and by
# cloudbuild.yaml alike (terraform plan/apply -var-file=settings.tfvars), so a setting
# changed here is the setting the next pipeline run applies. Change settings here, never
# with a local terraform.tfvars or TF_VAR_... (those would be reverted by the next run).
#
# No secret belongs here: secret values go to Secret Manager with gcloud (docs/deploying.md).
#
# EXAMPLE VALUES: every value marked EXAMPLE is a placeholder; a fork edits them to its own
# project, bucket and shop before the first apply (the pipeline refuses a project_id that is
# not the build's project).

project_id            = "example-shop-payments-staging"            # EXAMPLE: your staging project id
source_bucket_name    = "example-shop-payments-staging-fn-sources" # EXAMPLE: globally unique; never change it afterwards (a new name replaces the bucket)
region                = "us-central1"                              # EXAMPLE: functions, queues, scheduler, bucket
firestore_location    = "nam5"                                     # EXAMPLE: fixed once the database exists
firestore_database_id = "(default)"                                # another id only after a restore into a new database (docs/deploying.md, 11)

cors_allowed_origins = ["https://staging.shop.example.com"]              # EXAMPLE: your shop's origins
merchant_webhook_url = "https://staging.shop.example.com/hooks/payments" # EXAMPLE: "" = no order events

# Monitoring notification channels the alerts notify (create them in the console or with
# gcloud; empty = alerts only show in the console).
notification_channel_ids = [] # EXAMPLE: ["projects/<project>/notificationChannels/<id>"]

# roles/run.invoker for allUsers on the two public functions; false where the organization
# enforces domain-restricted sharing (docs/deploying.md, "Organizations that restrict allUsers").
public_invoker_grant = true

fulfill_max_attempts = 10
reconcile_schedule   = "*/10 * * * *"
log_level            = "INFO"


# create_payment's attempt limits (docs/contracts.md, "Attempt limits"; how to tune them:
# docs/deploying.md). Unset fields keep the defaults shown; "0" switches a limit off.
attempt_limits = {
  max_attempts_per_order = 5
  card                   = "5/3600"
  payer                  = "10/3600"
  ip                     = "100/600"
  orders_ip              = "200/600"
}

# The optional bot check (reCAPTCHA Enterprise; docs/deploying.md, "The bot check"). The
# storefront must then send a token for action "checkout" in X-Recaptcha-Token.
recaptcha = {
  enabled = false
  domains = [] # EXAMPLE: ["shop.example.com"]
}

# Cloud Build triggers (docs/deploying.md, 9): empty github_repository = none yet. Connect the
# repository to Cloud Build by hand first.
cicd = {
  github_owner      = "" # EXAMPLE: "example-shop"
  github_repository = "" # EXAMPLE: "mp-payments"
  tf_state_bucket   = "" # EXAMPLE: the state bucket of section 1
}

# How the internet reaches the two public functions (docs/deploying.md, "The edge"):
# "cloud_run" (their run.app URLs) or "load_balancer" (Cloud Armor in front, on domain).
edge   = "cloud_run"
domain = "" # EXAMPLE with load_balancer: "pay.shop.example.com"
