variable "project_id" {
  description = "The environment's Google Cloud project (one project per environment)."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod)."
  type        = string
}

variable "region" {
  description = "Region of the functions, queues, bucket and repository (TASKS_LOCATION)."
  type        = string
}

variable "protect" {
  description = "Production safety settings (Firestore PITR + delete protection, no force-destroy of the source bucket)."
  type        = bool
}

variable "firestore_location" {
  description = "Firestore location id (cannot change after creation)."
  type        = string
}

variable "firestore_database_id" {
  description = "Firestore database id (FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"
}

variable "source_bucket_name" {
  description = "Globally unique name of the bucket holding the deploy zips."
  type        = string
}

variable "packages" {
  description = "Function name => {path, sha256} of its deploy zip, as written by tools/build_package.py (build/packages/packages.tfvars.json)."
  type = map(object({
    path   = string
    sha256 = string
  }))
  validation {
    condition     = alltrue([for f in ["create_payment", "ipn_webhook", "fulfill", "reconcile"] : contains(keys(var.packages), f)])
    error_message = "packages must have create_payment, ipn_webhook, fulfill and reconcile (build them with tools/build_package.py)."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed to call create_payment from a browser (CORS_ALLOWED_ORIGINS); empty = no CORS."
  type        = list(string)
  default     = []
}

variable "merchant_webhook_url" {
  description = "Shop backend URL receiving signed order.* events (MERCHANT_WEBHOOK_URL); empty = no events."
  type        = string
  default     = ""
}

variable "fulfill_max_attempts" {
  description = "The fulfil queue's max_attempts AND fulfill's FULFILL_MAX_ATTEMPTS (one variable so they cannot disagree)."
  type        = number
  default     = 10
  validation {
    condition     = var.fulfill_max_attempts >= 2 && var.fulfill_max_attempts <= 100
    error_message = "fulfill_max_attempts must be between 2 and 100."
  }
}

variable "unknown_payment_max_attempts" {
  description = "UNKNOWN_PAYMENT_MAX_ATTEMPTS of fulfill."
  type        = number
  default     = 3
}

variable "min_instances" {
  description = "Minimum warm instances per function (reconcile is fixed at 0-1 in the stack)."
  type        = map(number)
  default = {
    create_payment = 0
    ipn_webhook    = 0
    fulfill        = 0
  }
}

variable "max_instances" {
  description = "Maximum instances per function (cost ceiling; modules/limits checks fulfill's max x concurrency against the fulfil queue's concurrent dispatches)."
  type        = map(number)
  default = {
    create_payment = 10
    ipn_webhook    = 10
    fulfill        = 10
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "secret_cache_ttl_seconds" {
  description = "SECRET_CACHE_TTL_SECONDS: how long a function keeps a secret file's content; bounds how fast a rotation is seen."
  type        = number
  default     = 60
}

variable "notification_channel_ids" {
  description = "Monitoring notification channel ids for the alert policies."
  type        = list(string)
  default     = []
}

variable "reconcile_schedule" {
  description = "Cron schedule (UTC) of the Cloud Scheduler job calling reconcile."
  type        = string
  default     = "*/10 * * * *"
}

variable "reconcile_window_minutes" {
  description = "RECONCILE_WINDOW_MINUTES: how far back reconcile searches Mercado Pago for updated payments; keep it a few schedule intervals so a failed run is covered by the next ones."
  type        = number
  default     = 30
  validation {
    condition     = var.reconcile_window_minutes >= 10
    error_message = "reconcile_window_minutes must be at least 10 (the default schedule's interval)."
  }
}

variable "reconcile_pending_after_minutes" {
  description = "RECONCILE_PENDING_AFTER_MINUTES: age after which a pending order is looked up in Mercado Pago by reconcile."
  type        = number
  default     = 15
}

variable "reconcile_max_items" {
  description = "RECONCILE_MAX_ITEMS: optional cap on payments per reconcile run on top of its time budget; 0 = none (validated in modules/limits)."
  type        = number
  default     = 0
}

# --- capacity limits (docs/capacity.md) ---------------------------------------------------
# null = the default in modules/limits, sized for 20 payments/s; modules/limits validates the
# whole set against each other at plan time.

variable "design_payments_per_second" {
  description = "The payment rate the limits are sized for; each limit is checked to carry it (modules/limits)."
  type        = number
  default     = null
}

variable "notifications_per_payment" {
  description = "Mercado Pago notifications per payment assumed by the checks (modules/limits, default 3)."
  type        = number
  default     = null
}

variable "concurrency" {
  description = "Requests per instance of create_payment, ipn_webhook and fulfill (modules/limits, default 20/40/20)."
  type        = map(number)
  default     = null
}

variable "fulfill_queue_dispatches_per_second" {
  description = "The fulfil queue's max_dispatches_per_second (modules/limits, default 100)."
  type        = number
  default     = null
}

variable "fulfill_queue_max_concurrent" {
  description = "The fulfil queue's max_concurrent_dispatches (modules/limits, default 100)."
  type        = number
  default     = null
}

variable "merchant_events_dispatches_per_second" {
  description = "The merchant-events queue's max_dispatches_per_second: the shop backend must take it (modules/limits, default 40)."
  type        = number
  default     = null
}

variable "merchant_events_max_concurrent" {
  description = "The merchant-events queue's max_concurrent_dispatches (modules/limits, default 40)."
  type        = number
  default     = null
}

variable "merchant_events_max_attempts" {
  description = "The merchant-events queue's max_attempts (modules/limits, default 100)."
  type        = number
  default     = null
}

variable "merchant_events_max_retry_hours" {
  description = "The merchant-events queue's max_retry_duration in hours (modules/limits, default 72)."
  type        = number
  default     = null
}

variable "reconcile_timeout_seconds" {
  description = "reconcile's request timeout (modules/limits, default 300); the scheduler's attempt_deadline is 20 s more."
  type        = number
  default     = null
}

variable "reconcile_time_budget_seconds" {
  description = "RECONCILE_TIME_BUDGET_SECONDS (modules/limits, default 240; at most the timeout - 30)."
  type        = number
  default     = null
}

variable "reconcile_pending_share_percent" {
  description = "RECONCILE_PENDING_SHARE_PERCENT (modules/limits, default 25)."
  type        = number
  default     = null
}

variable "firestore_backup_retention_days" {
  description = "Days each daily Firestore backup is kept (google_firestore_backup_schedule); 0 = no backup schedule. Firestore keeps a backup at most 14 weeks."
  type        = number
  default     = 0
  validation {
    condition     = var.firestore_backup_retention_days == 0 || (var.firestore_backup_retention_days >= 1 && var.firestore_backup_retention_days <= 98)
    error_message = "firestore_backup_retention_days must be 0 (off) or between 1 and 98."
  }
}

variable "public_invoker_grant" {
  description = "Grant roles/run.invoker to allUsers on create_payment and ipn_webhook. false in organizations enforcing domain-restricted sharing (iam.allowedPolicyMemberDomains): then turn off the two services' invoker IAM check with gcloud (docs/deploying.md)."
  type        = bool
  default     = true
}

variable "iam_propagation_wait" {
  description = "How long to wait after the build account's and each runtime account's IAM grants before building a function (IAM changes take time to propagate; a build or first start that runs too early fails with permission errors)."
  type        = string
  default     = "90s"
}

variable "attempt_limits" {
  description = "create_payment's attempt limits (docs/contracts.md): the per-order cap (a count) and the windowed limits ('count/seconds'); 0 or \"0\" switches one off."
  type = object({
    max_attempts_per_order = optional(number, 5)
    card                   = optional(string, "5/3600")
    payer                  = optional(string, "10/3600")
    ip                     = optional(string, "100/600")
    orders_ip              = optional(string, "200/600")
  })
  default = {}
  validation {
    condition = alltrue([
      for rate in [var.attempt_limits.card, var.attempt_limits.payer, var.attempt_limits.ip, var.attempt_limits.orders_ip] :
      can(regex("^(0|[1-9][0-9]*/[1-9][0-9]*)$", rate))
    ]) && var.attempt_limits.max_attempts_per_order >= 0
    error_message = "Each windowed limit is \"count/seconds\" or \"0\"; max_attempts_per_order is a count >= 0."
  }
}

variable "client_ip_trusted_hops" {
  description = "CLIENT_IP_TRUSTED_HOPS: which X-Forwarded-For entry, counted from the right, is the buyer (1 = Cloud Run's front end only; 2 behind the external Application Load Balancer)."
  type        = number
  default     = 1
  validation {
    condition     = var.client_ip_trusted_hops >= 1
    error_message = "client_ip_trusted_hops is at least 1."
  }
}

variable "recaptcha" {
  description = "The optional bot check of create_payment (reCAPTCHA Enterprise, action \"checkout\"): when enabled, a score key for `domains`, RECAPTCHA_SITE_KEY/MIN_SCORE/FAIL_OPEN on create_payment and roles/recaptchaenterprise.agent for its account."
  type = object({
    enabled   = optional(bool, false)
    domains   = optional(list(string), [])
    min_score = optional(number, 0.5)
    fail_open = optional(bool, false)
  })
  default = {}
  validation {
    condition     = var.recaptcha.min_score >= 0 && var.recaptcha.min_score <= 1 && (!var.recaptcha.enabled || length(var.recaptcha.domains) > 0)
    error_message = "min_score is 0 to 1; an enabled bot check needs the shop's domains."
  }
}

variable "edge" {
  description = "How the internet reaches create_payment and ipn_webhook: cloud_run (their run.app URLs) or load_balancer (a global external Application Load Balancer with Cloud Armor on var.domain; docs/deploying.md, \"The edge\")."
  type        = string
  default     = "cloud_run"
  validation {
    condition     = contains(["cloud_run", "load_balancer"], var.edge)
    error_message = "edge is cloud_run or load_balancer."
  }
}

variable "domain" {
  description = "The API's domain with edge = load_balancer (its managed certificate; point its A record at the load balancer's address)."
  type        = string
  default     = ""
  validation {
    condition     = var.edge != "load_balancer" || length(var.domain) > 0
    error_message = "edge = load_balancer needs the domain."
  }
}
