# Log-based metrics over the functions' structured logs and alert policies on them.
# The functions print one JSON object per line with `severity`, `message` and `event` (a
# stable event name); Cloud Run turns each line into a log entry whose jsonPayload holds
# those fields.

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
  description = "Project of the metrics and alerts."
  type        = string
}

variable "environment" {
  description = "Environment name shown in alert titles."
  type        = string
}

variable "notification_channel_ids" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alerts notify; create channels in the console or with gcloud. Empty = alerts only show in the console."
  type        = list(string)
  default     = []
}

variable "signature_rejections_threshold" {
  description = "Signature rejections in 5 minutes above which to alert (a few are normal: scanners, stale retries)."
  type        = number
  default     = 10
}

locals {
  base_filter = "resource.type=\"cloud_run_revision\""

  # name => (event, description). Every metric counts log entries of one event.
  counters = {
    signature_rejections = {
      event       = "signature_rejected"
      description = "Notifications rejected for a missing, stale or wrong x-signature."
    }
    fulfill_failures = {
      event       = "fulfill_failed"
      description = "Fulfil attempts that failed and will be retried by Cloud Tasks."
    }
    dead_letters = {
      event       = "dead_letter_recorded"
      description = "Fulfil tasks given up after the last attempt, recorded in dead_letters."
    }
    amount_mismatches = {
      event       = "amount_mismatch"
      description = "Payments whose amount or currency differs from the order's."
    }
  }

  # metric => (threshold over 5 minutes, documentation): an alert fires when the 5-minute
  # sum goes above the threshold.
  alerts = {
    signature_rejections = {
      threshold = var.signature_rejections_threshold
      doc       = "Many webhook notifications fail signature checks: a webhook secret rotated in Mercado Pago but not in Secret Manager (or the reverse), or someone probing the endpoint. See docs/deploying.md, rotating the webhook secret."
    }
    fulfill_failures = {
      threshold = 20
      doc       = "fulfill keeps failing (Mercado Pago API errors, Firestore errors or a bad release). Tasks are being retried; if it persists they become dead letters."
    }
    dead_letters = {
      threshold = 0
      doc       = "A paid notification could not be applied after every retry and was recorded in the dead_letters collection: inspect it and reconcile by hand."
    }
    amount_mismatches = {
      threshold = 0
      doc       = "A payment's amount or currency does not match its order: the order was NOT fulfilled. Investigate before refunding or fulfilling by hand."
    }
  }
}

resource "google_logging_metric" "payments_by_status" {
  project     = var.project_id
  name        = "payments_by_status"
  description = "Payments applied to orders, by Mercado Pago status (approved, rejected, refunded...)."
  filter      = "${local.base_filter} AND jsonPayload.event=\"payment_applied\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "payment_status"
      value_type  = "STRING"
      description = "Mercado Pago payment status."
    }
  }

  label_extractors = {
    payment_status = "EXTRACT(jsonPayload.payment_status)"
  }
}

resource "google_logging_metric" "counter" {
  for_each = local.counters

  project     = var.project_id
  name        = each.key
  description = each.value.description
  filter      = "${local.base_filter} AND jsonPayload.event=\"${each.value.event}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "counter" {
  for_each = local.alerts

  project               = var.project_id
  display_name          = "[${var.environment}] ${google_logging_metric.counter[each.key].name}"
  combiner              = "OR"
  notification_channels = var.notification_channel_ids
  severity              = each.value.threshold == 0 ? "CRITICAL" : "WARNING"

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "${google_logging_metric.counter[each.key].name} above ${each.value.threshold} in 5 min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.counter[each.key].name}\" AND ${local.base_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

output "metric_names" {
  description = "Log-based metric names."
  value = concat(
    [google_logging_metric.payments_by_status.name],
    [for m in google_logging_metric.counter : m.name],
  )
}
