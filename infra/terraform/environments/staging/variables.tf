# Values: settings.tfvars (committed, non-secret) and the packages' var-file; see
# docs/deploying.md, "One set of settings".

variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "region" {
  description = "Region of the functions and queues."
  type        = string
  default     = "us-central1"
}

variable "firestore_location" {
  description = "Firestore location id, e.g. nam5 or us-central1 (fixed once created)."
  type        = string
  default     = "nam5"
}

variable "firestore_database_id" {
  description = "Firestore database id (FIRESTORE_DATABASE); another id only after a restore (docs/deploying.md, 11)."
  type        = string
  default     = "(default)"
}

variable "source_bucket_name" {
  description = "Globally unique bucket name for the deploy zips, e.g. <project_id>-fn-sources."
  type        = string
}

variable "packages" {
  description = "Function => {path, sha256} of its zip; pass -var-file=../../../../build/packages/packages.tfvars.json (written by tools/build_package.py)."
  type = map(object({
    path   = string
    sha256 = string
  }))
}

variable "cors_allowed_origins" {
  description = "Shop origins allowed to call create_payment from a browser."
  type        = list(string)
  default     = []
}

variable "merchant_webhook_url" {
  description = "Shop backend URL for order.* events; empty = none."
  type        = string
  default     = ""
}

variable "fulfill_max_attempts" {
  description = "Fulfil queue max_attempts = fulfill's FULFILL_MAX_ATTEMPTS."
  type        = number
  default     = 10
}

variable "reconcile_schedule" {
  description = "Cron schedule (UTC) of the reconcile job."
  type        = string
  default     = "*/10 * * * *"
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"
}

variable "public_invoker_grant" {
  description = "roles/run.invoker for allUsers on create_payment and ipn_webhook; false under domain-restricted sharing (docs/deploying.md, 3)."
  type        = bool
  default     = true
}

variable "notification_channel_ids" {
  description = "Monitoring notification channels for the alerts."
  type        = list(string)
  default     = []
}

variable "attempt_limits" {
  description = "create_payment's attempt limits (docs/contracts.md, \"Attempt limits\"); unset fields keep the defaults."
  type = object({
    max_attempts_per_order = optional(number, 5)
    card                   = optional(string, "5/3600")
    payer                  = optional(string, "10/3600")
    ip                     = optional(string, "100/600")
    orders_ip              = optional(string, "200/600")
  })
  default = {}
}

variable "recaptcha" {
  description = "The optional bot check (docs/contracts.md, \"Bot check\"); off unless enabled."
  type = object({
    enabled   = optional(bool, false)
    domains   = optional(list(string), [])
    min_score = optional(number, 0.5)
    fail_open = optional(bool, false)
  })
  default = {}
}

variable "cicd" {
  description = "Cloud Build triggers and their accounts (modules/cicd); none while github_repository is empty (connect the repository first: docs/deploying.md, 9)."
  type = object({
    github_owner      = optional(string, "")
    github_repository = optional(string, "")
    tf_state_bucket   = optional(string, "")
  })
  default = {}
}

variable "edge" {
  description = "cloud_run or load_balancer (docs/deploying.md, \"The edge\")."
  type        = string
  default     = "cloud_run"
}

variable "domain" {
  description = "The API's domain with edge = load_balancer."
  type        = string
  default     = ""
}
