# Capacity limits of one environment, in one place, checked against each other at plan time.
#
# No resources and no provider: the stack passes its limits through this module and reads
# them back from its outputs, so an inconsistent set fails `terraform plan` with the variable
# validation's message (validations that refer to other variables need Terraform >= 1.9).
# Every variable is non-nullable: a caller passing null gets the default below.
# The defaults are sized for design_payments_per_second = 20; docs/capacity.md derives every
# one of them (and the settings for 1 and 200 payments/s).

terraform {
  required_version = ">= 1.11"
}

variable "design_payments_per_second" {
  description = "The payment rate the limits below are sized for (docs/capacity.md). Validations check that each limit carries it."
  type        = number
  nullable    = false
  default     = 20
  validation {
    condition     = var.design_payments_per_second > 0 && var.design_payments_per_second <= 1000
    error_message = "design_payments_per_second must be above 0 and at most 1000."
  }
}

variable "notifications_per_payment" {
  description = "Mercado Pago notifications (= fulfil tasks) per payment, worst case (webhook + IPN topics, payment and merchant_order; docs/capacity.md)."
  type        = number
  nullable    = false
  default     = 3
  validation {
    condition     = var.notifications_per_payment >= 1 && var.notifications_per_payment <= 10
    error_message = "notifications_per_payment must be between 1 and 10."
  }
}

# --- Cloud Tasks ----------------------------------------------------------------------------

variable "fulfill_queue_dispatches_per_second" {
  description = "The fulfil queue's max_dispatches_per_second (Cloud Tasks allows up to 500 per queue)."
  type        = number
  nullable    = false
  default     = 100
  validation {
    condition     = var.fulfill_queue_dispatches_per_second > 0 && var.fulfill_queue_dispatches_per_second <= 500
    error_message = "fulfill_queue_dispatches_per_second must be above 0 and at most 500 (Cloud Tasks' per-queue ceiling; beyond it, shard the queue: docs/capacity.md)."
  }
  validation {
    condition     = var.fulfill_queue_dispatches_per_second >= var.design_payments_per_second * var.notifications_per_payment * 1.25
    error_message = "fulfill_queue_dispatches_per_second must be at least design_payments_per_second x notifications_per_payment x 1.25 (retries and reconcile on top), or a backlog grows at the design rate."
  }
}

variable "fulfill_queue_max_concurrent" {
  description = "The fulfil queue's max_concurrent_dispatches (tasks in flight to fulfill)."
  type        = number
  nullable    = false
  default     = 100
  validation {
    condition     = var.fulfill_queue_max_concurrent >= 1 && var.fulfill_queue_max_concurrent <= 5000
    error_message = "fulfill_queue_max_concurrent must be between 1 and 5000 (Cloud Tasks' maximum)."
  }
  validation {
    condition     = var.max_instances["fulfill"] * var.concurrency["fulfill"] >= var.fulfill_queue_max_concurrent
    error_message = "fulfill's max_instances x concurrency must be at least fulfill_queue_max_concurrent: otherwise dispatches queue inside Cloud Run and time out as 429/503 retries."
  }
  validation {
    # Little's law with a 1 s fulfil task (Mercado Pago GET + a Firestore transaction, p99).
    condition     = var.fulfill_queue_max_concurrent >= var.design_payments_per_second * var.notifications_per_payment
    error_message = "fulfill_queue_max_concurrent must be at least design_payments_per_second x notifications_per_payment (tasks of ~1 s in flight at the design rate)."
  }
}

variable "fulfill_max_attempts" {
  description = "The fulfil queue's max_attempts AND fulfill's FULFILL_MAX_ATTEMPTS (the retry budget of a notification)."
  type        = number
  nullable    = false
  default     = 10
  validation {
    condition     = var.fulfill_max_attempts >= 2 && var.fulfill_max_attempts <= 100
    error_message = "fulfill_max_attempts must be between 2 and 100."
  }
}

variable "unknown_payment_max_attempts" {
  description = "fulfill's UNKNOWN_PAYMENT_MAX_ATTEMPTS (attempts for a payment Mercado Pago does not know yet)."
  type        = number
  nullable    = false
  default     = 3
  validation {
    condition     = var.unknown_payment_max_attempts >= 1 && var.unknown_payment_max_attempts <= var.fulfill_max_attempts
    error_message = "unknown_payment_max_attempts must be between 1 and fulfill_max_attempts (the queue gives no more attempts than that)."
  }
}

variable "merchant_events_dispatches_per_second" {
  description = "The merchant-events queue's max_dispatches_per_second (calls to the shop backend)."
  type        = number
  nullable    = false
  default     = 40
  validation {
    condition     = var.merchant_events_dispatches_per_second > 0 && var.merchant_events_dispatches_per_second <= 500
    error_message = "merchant_events_dispatches_per_second must be above 0 and at most 500."
  }
  validation {
    # about one order event per payment (order.paid, or order.rejected / order.expired)
    condition     = var.merchant_events_dispatches_per_second >= var.design_payments_per_second * 1.25
    error_message = "merchant_events_dispatches_per_second must be at least design_payments_per_second x 1.25 (one order event per payment plus retries)."
  }
}

variable "merchant_events_max_concurrent" {
  description = "The merchant-events queue's max_concurrent_dispatches (the shop backend's parallel requests)."
  type        = number
  nullable    = false
  default     = 40
  validation {
    condition     = var.merchant_events_max_concurrent >= 1 && var.merchant_events_max_concurrent <= 5000
    error_message = "merchant_events_max_concurrent must be between 1 and 5000."
  }
}

variable "merchant_events_max_attempts" {
  description = "The merchant-events queue's max_attempts (retry budget of an order event)."
  type        = number
  nullable    = false
  default     = 100
  validation {
    condition     = var.merchant_events_max_attempts >= 1 && var.merchant_events_max_attempts <= 1000
    error_message = "merchant_events_max_attempts must be between 1 and 1000."
  }
}

variable "merchant_events_max_retry_hours" {
  description = "The merchant-events queue's max_retry_duration in hours (how long a shop outage is ridden out)."
  type        = number
  nullable    = false
  default     = 72
  validation {
    condition     = var.merchant_events_max_retry_hours >= 1 && var.merchant_events_max_retry_hours <= 24 * 31
    error_message = "merchant_events_max_retry_hours must be between 1 and 744 (Cloud Tasks keeps a task at most 31 days)."
  }
}

# --- Cloud Run ------------------------------------------------------------------------------

variable "concurrency" {
  description = "Requests per instance of each request-driven function (Cloud Run allows up to 1000)."
  type        = map(number)
  nullable    = false
  default = {
    create_payment = 20
    ipn_webhook    = 40
    fulfill        = 20
  }
  validation {
    condition = alltrue([
      for name in ["create_payment", "ipn_webhook", "fulfill"] :
      contains(keys(var.concurrency), name) && try(var.concurrency[name] >= 1 && var.concurrency[name] <= 1000, false)
    ])
    error_message = "concurrency needs create_payment, ipn_webhook and fulfill, each between 1 and 1000."
  }
}

variable "min_instances" {
  description = "Minimum warm instances per function (the idle cost: docs/capacity.md)."
  type        = map(number)
  nullable    = false
  default = {
    create_payment = 0
    ipn_webhook    = 0
    fulfill        = 0
  }
  validation {
    condition = alltrue([
      for name in ["create_payment", "ipn_webhook", "fulfill"] :
      try(var.min_instances[name] >= 0 && var.min_instances[name] <= var.max_instances[name], false)
    ])
    error_message = "min_instances needs create_payment, ipn_webhook and fulfill, each between 0 and its max_instances."
  }
}

variable "max_instances" {
  description = "Maximum instances per function (the cost ceiling; Cloud Run's default quota is 100 per service and region)."
  type        = map(number)
  nullable    = false
  default = {
    create_payment = 10
    ipn_webhook    = 10
    fulfill        = 10
  }
  validation {
    condition = alltrue([
      for name in ["create_payment", "ipn_webhook", "fulfill"] :
      try(var.max_instances[name] >= 1 && var.max_instances[name] <= 1000, false)
    ])
    error_message = "max_instances needs create_payment, ipn_webhook and fulfill, each between 1 and 1000."
  }
  validation {
    # A create takes up to ~2 s (Mercado Pago POST /v1/payments + Firestore): in flight at the
    # design rate, plus buyers retrying rejected cards.
    condition     = var.max_instances["create_payment"] * var.concurrency["create_payment"] >= var.design_payments_per_second * 2
    error_message = "create_payment's max_instances x concurrency must be at least design_payments_per_second x 2 (creates of ~2 s in flight at the design rate)."
  }
  validation {
    # A notification takes well under 0.5 s (verify a signature, create a task).
    condition     = var.max_instances["ipn_webhook"] * var.concurrency["ipn_webhook"] >= var.design_payments_per_second * var.notifications_per_payment * 0.5
    error_message = "ipn_webhook's max_instances x concurrency must be at least design_payments_per_second x notifications_per_payment x 0.5."
  }
}

# --- reconcile ------------------------------------------------------------------------------

variable "reconcile_timeout_seconds" {
  description = "reconcile's request timeout; the scheduler job's attempt_deadline is this plus 20 s (Cloud Scheduler allows up to 1800 s)."
  type        = number
  nullable    = false
  default     = 300
  validation {
    condition     = var.reconcile_timeout_seconds >= 60 && var.reconcile_timeout_seconds <= 1780
    error_message = "reconcile_timeout_seconds must be between 60 and 1780 (the job's attempt_deadline, 20 s more, is at most 1800 s)."
  }
}

variable "reconcile_time_budget_seconds" {
  description = "RECONCILE_TIME_BUDGET_SECONDS: how long one reconcile run works before saving its cursors and answering."
  type        = number
  nullable    = false
  default     = 240
  validation {
    condition     = var.reconcile_time_budget_seconds >= 10 && var.reconcile_time_budget_seconds <= var.reconcile_timeout_seconds - 30
    error_message = "reconcile_time_budget_seconds must be at least 10 and at most reconcile_timeout_seconds - 30 (a page in flight and the answer must fit before the timeout)."
  }
}

variable "reconcile_pending_share_percent" {
  description = "RECONCILE_PENDING_SHARE_PERCENT: share of the run's budget kept for the pending-order pass."
  type        = number
  nullable    = false
  default     = 25
  validation {
    condition     = var.reconcile_pending_share_percent >= 1 && var.reconcile_pending_share_percent <= 90
    error_message = "reconcile_pending_share_percent must be between 1 and 90."
  }
}

variable "reconcile_max_items" {
  description = "RECONCILE_MAX_ITEMS: optional cap on payments per reconcile run on top of the time budget; 0 = none."
  type        = number
  nullable    = false
  default     = 0
  validation {
    condition     = var.reconcile_max_items == 0 || var.reconcile_max_items >= 100
    error_message = "reconcile_max_items must be 0 (no cap: the time budget bounds a run) or at least 100."
  }
}

output "values" {
  description = "Every limit, as validated."
  value = {
    design_payments_per_second            = var.design_payments_per_second
    fulfill_queue_dispatches_per_second   = var.fulfill_queue_dispatches_per_second
    fulfill_queue_max_concurrent          = var.fulfill_queue_max_concurrent
    fulfill_max_attempts                  = var.fulfill_max_attempts
    unknown_payment_max_attempts          = var.unknown_payment_max_attempts
    merchant_events_dispatches_per_second = var.merchant_events_dispatches_per_second
    merchant_events_max_concurrent        = var.merchant_events_max_concurrent
    merchant_events_max_attempts          = var.merchant_events_max_attempts
    merchant_events_max_retry_hours       = var.merchant_events_max_retry_hours
    concurrency                           = var.concurrency
    min_instances                         = var.min_instances
    max_instances                         = var.max_instances
    reconcile_timeout_seconds             = var.reconcile_timeout_seconds
    reconcile_time_budget_seconds         = var.reconcile_time_budget_seconds
    reconcile_pending_share_percent       = var.reconcile_pending_share_percent
    reconcile_max_items                   = var.reconcile_max_items
  }
}
