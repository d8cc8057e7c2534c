# Cloud Tasks queues. Callers set the target URL (and, for fulfil tasks, the OIDC token) on
# each task, as docs/contracts.md says; no queue-level http_target override is configured,
# because the same code runs against the local Cloud Tasks emulator, which sees only what the
# task carries, and a queue-level override would be a second place for the URL that could
# disagree with FULFILL_URL.

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
  description = "Project of the queues."
  type        = string
}

variable "location" {
  description = "Cloud Tasks location (TASKS_LOCATION)."
  type        = string
}

variable "fulfill_queue_id" {
  description = "Queue id of fulfil tasks (FULFILL_QUEUE)."
  type        = string
  default     = "fulfill"
}

variable "merchant_events_queue_id" {
  description = "Queue id of merchant events (MERCHANT_EVENTS_QUEUE)."
  type        = string
  default     = "merchant-events"
}

variable "fulfill_max_attempts" {
  description = "max_attempts of the fulfil queue. MUST equal fulfill's FULFILL_MAX_ATTEMPTS: fulfill records a dead letter on the last attempt, which it recognises from X-CloudTasks-TaskRetryCount."
  type        = number
}

variable "fulfill_max_dispatches_per_second" {
  description = "The fulfil queue's max_dispatches_per_second (sized in modules/limits)."
  type        = number
  default     = 10
}

variable "fulfill_max_concurrent_dispatches" {
  description = "The fulfil queue's max_concurrent_dispatches (sized in modules/limits)."
  type        = number
  default     = 20
}

variable "fulfill_function_max_attempts" {
  description = "FULFILL_MAX_ATTEMPTS as given to fulfill; must equal fulfill_max_attempts (checked before the queue is planned). null = not checked."
  type        = number
  default     = null
}

variable "merchant_events_max_dispatches_per_second" {
  description = "The merchant-events queue's max_dispatches_per_second (sized in modules/limits)."
  type        = number
  default     = 5
}

variable "merchant_events_max_concurrent_dispatches" {
  description = "The merchant-events queue's max_concurrent_dispatches (sized in modules/limits)."
  type        = number
  default     = 5
}

variable "merchant_events_max_attempts" {
  description = "The merchant-events queue's max_attempts."
  type        = number
  default     = 100
}

variable "merchant_events_max_retry_hours" {
  description = "The merchant-events queue's max_retry_duration, in hours."
  type        = number
  default     = 72
}

resource "google_cloud_tasks_queue" "fulfill" {
  project  = var.project_id
  location = var.location
  name     = var.fulfill_queue_id

  # Each fulfil task costs one Mercado Pago GET /v1/payments call and one Firestore
  # transaction; Mercado Pago sends several notifications per payment. The rate and the
  # concurrency are sized from the design payment rate in modules/limits (docs/capacity.md),
  # which also checks that fulfill's max instances x concurrency covers the concurrency, so
  # dispatches never queue inside Cloud Run.
  rate_limits {
    max_dispatches_per_second = var.fulfill_max_dispatches_per_second
    max_concurrent_dispatches = var.fulfill_max_concurrent_dispatches
  }

  # Attempts are bounded by count only (max_retry_duration 0 = unlimited): fulfill must see
  # its last attempt (retry count = max_attempts - 1) to record a dead letter, which a time
  # limit could cut off silently. Backoff 10 s doubling 5 times to 320 s, then linear up to
  # 600 s: with 10 attempts a task is retried for about 40 minutes, long enough to ride out a
  # Mercado Pago API incident or a bad deploy rolled back, short enough to surface a stuck
  # payment as a dead letter the same hour.
  retry_config {
    max_attempts       = var.fulfill_max_attempts
    max_retry_duration = "0s"
    min_backoff        = "10s"
    max_backoff        = "600s"
    max_doublings      = 5
  }

  lifecycle {
    precondition {
      condition     = var.fulfill_function_max_attempts == null || var.fulfill_function_max_attempts == var.fulfill_max_attempts
      error_message = "The fulfil queue's max_attempts must equal fulfill's FULFILL_MAX_ATTEMPTS: fulfill records a dead letter on what it believes is the last attempt."
    }
  }
}

resource "google_cloud_tasks_queue" "merchant_events" {
  project  = var.project_id
  location = var.location
  name     = var.merchant_events_queue_id

  # The shop backend is somebody else's server: the rate and concurrency it must take (about
  # one order event per payment) are set in modules/limits and stated in docs/capacity.md.
  rate_limits {
    max_dispatches_per_second = var.merchant_events_max_dispatches_per_second
    max_concurrent_dispatches = var.merchant_events_max_concurrent_dispatches
  }

  # An order event must survive a shop outage of a day or two: retry up to 100 times, backoff
  # 30 s doubling to 1 h, for at most 3 days (Cloud Tasks' own task retention ceiling is 31
  # days). Events are idempotent for the receiver (X-Event-Id), so retries are safe.
  retry_config {
    max_attempts       = var.merchant_events_max_attempts
    max_retry_duration = "${var.merchant_events_max_retry_hours * 3600}s"
    min_backoff        = "30s"
    max_backoff        = "3600s"
    max_doublings      = 7
  }
}

output "fulfill_max_attempts" {
  description = "The fulfil queue's max_attempts as configured."
  value       = google_cloud_tasks_queue.fulfill.retry_config[0].max_attempts
}

output "fulfill_queue_id" {
  description = "Fulfil queue id (FULFILL_QUEUE)."
  value       = google_cloud_tasks_queue.fulfill.name
}

output "merchant_events_queue_id" {
  description = "Merchant events queue id (MERCHANT_EVENTS_QUEUE)."
  value       = google_cloud_tasks_queue.merchant_events.name
}

output "queue_ids" {
  description = "Logical name => full queue id (projects/P/locations/L/queues/Q), for queue-level IAM."
  value = {
    fulfill         = google_cloud_tasks_queue.fulfill.id
    merchant_events = google_cloud_tasks_queue.merchant_events.id
  }
}
