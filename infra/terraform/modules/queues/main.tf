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

resource "google_cloud_tasks_queue" "fulfill" {
  project  = var.project_id
  location = var.location
  name     = var.fulfill_queue_id

  # Each fulfil task costs one Mercado Pago GET /v1/payments call and one Firestore
  # transaction. 10/s and 20 in flight stay far below Mercado Pago's API rate limits and keep
  # transaction contention on one order low, while still draining a burst of notifications
  # (Mercado Pago sends several per payment) in seconds. fulfill's max instances x concurrency
  # (see the stack) is sized above 20 so dispatches never queue inside Cloud Run.
  rate_limits {
    max_dispatches_per_second = 10
    max_concurrent_dispatches = 20
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
}

resource "google_cloud_tasks_queue" "merchant_events" {
  project  = var.project_id
  location = var.location
  name     = var.merchant_events_queue_id

  # The shop backend is somebody else's server of unknown capacity: at most 5 calls per
  # second and 5 in flight so that a replay of many events cannot overload it.
  rate_limits {
    max_dispatches_per_second = 5
    max_concurrent_dispatches = 5
  }

  # An order event must survive a shop outage of a day or two: retry up to 100 times, backoff
  # 30 s doubling to 1 h, for at most 3 days (Cloud Tasks' own task retention ceiling is 31
  # days). Events are idempotent for the receiver (X-Event-Id), so retries are safe.
  retry_config {
    max_attempts       = 100
    max_retry_duration = "259200s"
    min_backoff        = "30s"
    max_backoff        = "3600s"
    max_doublings      = 7
  }
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
