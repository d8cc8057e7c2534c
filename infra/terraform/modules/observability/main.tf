# Log-based metrics over the functions' structured logs and alert policies on them.
# The functions print one JSON object per line with `severity`, `message` and `event` (a
# stable event name); Cloud Run turns each line into a log entry whose jsonPayload holds
# those fields. One metric (reconcile_job_failures) counts Cloud Scheduler's own execution
# log entries instead, so that a job that cannot reach reconcile at all (ingress, IAM,
# audience) is seen even though reconcile then logs nothing; another (caller_iam_refusals)
# counts Cloud Run's own request log entries of fulfill and reconcile answered 401/403.
#
# Alert policies on a log-based metric fail to create on a fresh project with "Cannot find
# metric(s) that match type" until the metric's descriptor exists in Cloud Monitoring, which
# happens some time after the metric is created (hashicorp/terraform-provider-google#11102,
# open). The policies are therefore created after time_sleep.metric_descriptors.

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

variable "reconcile_job_id" {
  description = "Cloud Scheduler job id of reconcile (its failed attempts are counted)."
  type        = string
  default     = "reconcile"
}

variable "caller_checked_services" {
  description = "Cloud Run services whose callers are checked (fulfill, reconcile): their refusals are counted, by the function (caller_rejected) and by Cloud Run's IAM check (401/403 in the request log)."
  type        = list(string)
  default     = ["fulfill", "reconcile"]
}

variable "metric_descriptor_wait" {
  description = "Wait between creating the log-based metrics and their alert policies (the metric descriptors appear in Cloud Monitoring with a delay)."
  type        = string
  default     = "60s"
}

variable "card_rejections_threshold" {
  description = "Rejected card payments in 15 minutes above which to alert (card testing shows as a burst of rejections; the attempt limits bound it)."
  type        = number
  default     = 30
}

variable "rate_limited_threshold" {
  description = "Attempts refused by the attempt limits in 15 minutes above which to alert."
  type        = number
  default     = 50
}

variable "bot_check_failures_threshold" {
  description = "Attempts refused by the bot check in 15 minutes above which to alert."
  type        = number
  default     = 50
}

variable "signature_rejections_threshold" {
  description = "Signature rejections in 5 minutes above which to alert (a few are normal: scanners, stale retries)."
  type        = number
  default     = 10
}

locals {
  base_filter = "resource.type=\"cloud_run_revision\""

  # name => (event, description). Each of these metrics counts the functions' log entries of
  # one event.
  events = {
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
    orphan_payments = {
      event       = "orphan_payment"
      description = "Payments naming an order id of this project that no order has (recorded in anomalies)."
    }
    reconcile_corrections = {
      event       = "reconcile_corrected"
      description = "Payments or orders reconcile found out of date and enqueued a fulfil task for (notifications that were lost or late)."
    }
    rate_limited_attempts = {
      event       = "attempt_rate_limited"
      description = "Payment attempts create_payment refused with 429 (attempt limits; label-free, the log entry's limit field says which)."
    }
    bot_check_failures = {
      event       = "bot_check_failed"
      description = "Payment attempts refused by the optional bot check (403 bot_check_failed)."
    }
    paid_after_expiry = {
      event       = "paid_after_expiry"
      description = "Approved payments for orders reconcile had expired as abandoned (anomalies/paid_after_expiry-<id>)."
    }
    orders_expired = {
      event       = "order_expired"
      description = "Abandoned orders reconcile cancelled."
    }
    notifications_queued = {
      event       = "notification_queued"
      description = "Mercado Pago notifications accepted and queued as fulfil tasks."
    }
    notifications_duplicate = {
      event       = "notification_duplicate"
      description = "Mercado Pago notifications already queued (retries, duplicates)."
    }
    reconcile_failures = {
      event       = "reconcile_failed"
      description = "reconcile attempts that failed (one per failed run or retry, answered 503); the next run covers the same window again."
    }
  }

  scheduler_filter = "resource.type=\"cloud_scheduler_job\""

  # resource.labels.service_name=("fulfill" OR "reconcile")
  checked_services_filter = "resource.labels.service_name=(${join(" OR ", [for s in var.caller_checked_services : "\"${s}\""])})"

  # name => (monitored resource filter, log filter, description): every log-based counter.
  counters = merge(
    { for name, c in local.events : name => {
      resource_filter = local.base_filter
      filter          = "${local.base_filter} AND jsonPayload.event=\"${c.event}\""
      description     = c.description
    } },
    {
      # create_payment's own answer from Mercado Pago: card testing is a burst of these.
      card_rejections = {
        resource_filter = local.base_filter
        filter          = "${local.base_filter} AND jsonPayload.event=\"payment_created\" AND jsonPayload.payment_status=\"rejected\""
        description     = "Payments create_payment created that Mercado Pago rejected at once (declined cards)."
      }
      # Cloud Scheduler writes one AttemptFinished entry per attempt to its executions log,
      # with severity ERROR when the target answered an error or could not be reached.
      reconcile_job_failures = {
        resource_filter = local.scheduler_filter
        filter          = "${local.scheduler_filter} AND resource.labels.job_id=\"${var.reconcile_job_id}\" AND jsonPayload.@type=\"type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished\" AND severity>=ERROR"
        description     = "Attempts of the reconcile Cloud Scheduler job that failed (reconcile unreachable, 401/403, 5xx or deadline exceeded)."
      }
      # The functions' own refusals: fulfill and reconcile log caller_rejected (jsonPayload.event,
      # shared/platform/log.py) when a request's ID token fails their check (audience, account, expiry,
      # issuer, a signature that is not Google's).
      caller_rejections = {
        resource_filter = local.base_filter
        filter          = "${local.base_filter} AND ${local.checked_services_filter} AND jsonPayload.event=\"caller_rejected\""
        description     = "Requests fulfill or reconcile refused themselves because the caller's ID token failed their check (event caller_rejected)."
      }
      # Cloud Run's IAM check refuses a request before the function sees it (401 without a
      # valid token, 403 without run.invoker): only Cloud Run's request log shows it. The
      # function's own 401/403 answers are in that log too, so this counts both.
      caller_iam_refusals = {
        resource_filter = local.base_filter
        filter          = "${local.base_filter} AND logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\" AND ${local.checked_services_filter} AND httpRequest.status=(401 OR 403)"
        description     = "Requests to fulfill or reconcile answered 401/403, by Cloud Run's IAM check (no valid ID token, caller without run.invoker) or by the function."
      }
    },
  )

  # metric => (threshold, window, documentation): an alert fires when the sum over the
  # window goes above the threshold.
  alerts = {
    signature_rejections = {
      threshold = var.signature_rejections_threshold
      window    = 300
      doc       = "Many webhook notifications fail signature checks: a webhook secret rotated in Mercado Pago but not in Secret Manager (or the reverse), or someone probing the endpoint. See docs/deploying.md, rotating the webhook secret."
    }
    fulfill_failures = {
      threshold = 20
      window    = 300
      doc       = "fulfill keeps failing (Mercado Pago API errors, Firestore errors or a bad release). Tasks are being retried; if it persists they become dead letters."
    }
    dead_letters = {
      threshold = 0
      window    = 300
      doc       = "A paid notification could not be applied after every retry and was recorded in the dead_letters collection: inspect it and reconcile by hand."
    }
    amount_mismatches = {
      threshold = 0
      window    = 300
      doc       = "A payment's amount or currency does not match its order: the order was NOT fulfilled. Investigate before refunding or fulfilling by hand."
    }
    orphan_payments = {
      threshold = 0
      window    = 300
      doc       = "Money arrived for an order this database does not have (anomalies/orphan_payment-<id>). List with mpctl anomalies list; refund with mpctl refund-payment ID, or find the order elsewhere (another environment sharing the account)."
    }
    card_rejections = {
      threshold = var.card_rejections_threshold
      window    = 900
      doc       = "Many card payments were declined in 15 minutes: card testing (bots trying stolen cards) or an issuer outage. The attempt limits bound it (attempt_rate_limited entries); lower RATE_LIMIT_CARD / RATE_LIMIT_IP or turn the bot check on (docs/deploying.md, attempt limits and bot check)."
    }
    rate_limited_attempts = {
      threshold = var.rate_limited_threshold
      window    = 900
      doc       = "The attempt limits refused many payment attempts (attempt_rate_limited, field limit). With card rejections around them: card testing being stopped. Without: the IP limits may be too tight for the shop's traffic (docs/deploying.md, tuning the attempt limits)."
    }
    bot_check_failures = {
      threshold = var.bot_check_failures_threshold
      window    = 900
      doc       = "The bot check refused many attempts (bot_check_failed, field reason). low_score from real buyers: lower RECAPTCHA_MIN_SCORE; invalid:key_mismatch / domain_mismatch: the storefront's key or domain is wrong."
    }
    paid_after_expiry = {
      threshold = 0
      window    = 300
      doc       = "A payment was approved for an order reconcile had expired as abandoned: the order was NOT fulfilled. List with mpctl anomalies list; honour it by hand or refund the payment."
    }
    # reconcile runs every 10 minutes, an attempt and at most one retry per run (the job's
    # retry_config), and each search window is covered by ~3 runs. reconcile logs one
    # reconcile_failed per failed attempt (and answers 503). One failed run (<= 2 failures)
    # is absorbed by the next; more than 2 failures in 30 minutes means at least two runs
    # failed: the safety net is down.
    reconcile_failures = {
      threshold = 2
      window    = 1800
      doc       = "reconcile failed in more than one run within 30 minutes (Mercado Pago search or Firestore errors, missing index, or a bad release): payments whose notification was lost are not being caught up. Check the reconcile_failed log entries."
    }
    reconcile_job_failures = {
      threshold = 2
      window    = 1800
      doc       = "The Cloud Scheduler job's attempts to run reconcile failed more than twice in 30 minutes (at least two runs): look at the job's execution logs (status PERMISSION_DENIED/UNAUTHENTICATED = invoker grant, ingress or token audience; see \"One audience\" in docs/deploying.md)."
    }
    # Only Cloud Tasks (fulfill) and Cloud Scheduler (reconcile), signing as this project's
    # own accounts, call these services: a refusal means fulfil tasks or reconcile runs are
    # being dropped (a wrong audience or account, a missing run.invoker grant, CALLER_AUTH
    # not matching the deployment), or someone inside the project is probing them. More than
    # 2 in 10 minutes: a one-off manual curl does not page, a broken configuration does
    # (every fulfil task is retried, and refused, several times in that window).
    caller_rejections = {
      threshold = 2
      window    = 600
      doc       = "fulfill or reconcile refused callers (log event caller_rejected, with the reason). Fulfil tasks refused on every attempt are dropped by Cloud Tasks without a dead letter: check FULFILL_AUTH_AUDIENCE / RECONCILE_AUTH_AUDIENCE against the tasks' and the scheduler job's audience, the allowed accounts and CALLER_AUTH (docs/deploying.md, \"One audience\")."
    }
    caller_iam_refusals = {
      threshold = 2
      window    = 600
      doc       = "Requests to fulfill or reconcile were answered 401/403 (Cloud Run's request log). Without a caller_rejected entry at the same time, Cloud Run's IAM check refused them before the function ran: the calling account lacks roles/run.invoker on the service, or its token's audience is not one of the service's URLs. Fulfil tasks refused on every attempt are dropped without a dead letter."
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
  filter      = each.value.filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# Waits for the metric descriptors to exist before any alert policy refers to them. A new
# metric (another key in local.counters) replaces the sleep, so it is waited for as well.
resource "time_sleep" "metric_descriptors" {
  create_duration = var.metric_descriptor_wait

  triggers = {
    metrics = join(",", sort(keys(local.counters)))
  }

  depends_on = [google_logging_metric.counter, google_logging_metric.payments_by_status]
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
    display_name = "${google_logging_metric.counter[each.key].name} above ${each.value.threshold} in ${each.value.window / 60} min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.counter[each.key].name}\" AND ${local.counters[each.key].resource_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "${each.value.window}s"
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

  depends_on = [time_sleep.metric_descriptors]
}

# One dashboard for the payment flow: payments, notifications, fulfil latency, dead letters,
# anomalies, and the abuse signals.
locals {
  dashboard_counters = {
    "Payments applied, by status"        = { metric = google_logging_metric.payments_by_status.name, group = ["metric.label.payment_status"] }
    "Card rejections at creation"        = { metric = google_logging_metric.counter["card_rejections"].name, group = [] }
    "Notifications queued"               = { metric = google_logging_metric.counter["notifications_queued"].name, group = [] }
    "Notifications duplicate"            = { metric = google_logging_metric.counter["notifications_duplicate"].name, group = [] }
    "Notifications rejected (signature)" = { metric = google_logging_metric.counter["signature_rejections"].name, group = [] }
    "Dead letters"                       = { metric = google_logging_metric.counter["dead_letters"].name, group = [] }
    "Anomalies: amount mismatch"         = { metric = google_logging_metric.counter["amount_mismatches"].name, group = [] }
    "Anomalies: orphan payments"         = { metric = google_logging_metric.counter["orphan_payments"].name, group = [] }
    "Anomalies: paid after expiry"       = { metric = google_logging_metric.counter["paid_after_expiry"].name, group = [] }
    "Attempts rate-limited (429)"        = { metric = google_logging_metric.counter["rate_limited_attempts"].name, group = [] }
    "Bot check failures (403)"           = { metric = google_logging_metric.counter["bot_check_failures"].name, group = [] }
    "Abandoned orders expired"           = { metric = google_logging_metric.counter["orders_expired"].name, group = [] }
  }
  counter_tiles = [for title, c in local.dashboard_counters : {
    title = title
    xyChart = {
      dataSets = [{
        plotType = "STACKED_BAR"
        timeSeriesQuery = {
          timeSeriesFilter = {
            filter = "metric.type=\"logging.googleapis.com/user/${c.metric}\""
            aggregation = {
              alignmentPeriod    = "300s"
              perSeriesAligner   = "ALIGN_SUM"
              crossSeriesReducer = "REDUCE_SUM"
              groupByFields      = c.group
            }
          }
        }
      }]
    }
  }]
  latency_tile = {
    title = "fulfill latency (p50, p95)"
    xyChart = {
      dataSets = [for p in ["ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_95"] : {
        plotType = "LINE"
        timeSeriesQuery = {
          timeSeriesFilter = {
            filter = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"fulfill\""
            aggregation = {
              alignmentPeriod  = "300s"
              perSeriesAligner = p
            }
          }
        }
      }]
    }
  }
}

resource "google_monitoring_dashboard" "payments" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Payments (${var.environment})"
    mosaicLayout = {
      columns = 12
      tiles = [for i, w in concat(local.counter_tiles, [local.latency_tile]) : {
        xPos   = (i % 3) * 4
        yPos   = floor(i / 3) * 4
        width  = 4
        height = 4
        widget = w
      }]
    }
  })
}

output "metric_names" {
  description = "Log-based metric names."
  value = concat(
    [google_logging_metric.payments_by_status.name],
    [for m in google_logging_metric.counter : m.name],
  )
}
