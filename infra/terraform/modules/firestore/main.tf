# The Firestore database (native mode), the TTL policies of the expiring collections, the
# composite indexes the code's queries need, and (prod) a daily backup schedule. Restoring a
# backup or a point-in-time snapshot creates a NEW database: see docs/deploying.md,
# "Restoring Firestore", for what it then needs (IAM condition, TTL policies, indexes).

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
  description = "Project of the database."
  type        = string
}

variable "database_id" {
  description = "Database id (FIRESTORE_DATABASE); \"(default)\" is the free-tier eligible one."
  type        = string
  default     = "(default)"
}

variable "location_id" {
  description = "Firestore location (a region such as us-central1, or a multi-region such as nam5). Cannot change after creation."
  type        = string
}

variable "protect" {
  description = "Production settings: delete protection on, point-in-time recovery on, and `terraform destroy` abandons the database instead of deleting it."
  type        = bool
}

variable "backup_retention_days" {
  description = "Days each daily backup is kept; 0 = no backup schedule. Point-in-time recovery (protect) covers the last 7 days; backups cover longer and survive the database's deletion."
  type        = number
  default     = 0
  validation {
    condition     = var.backup_retention_days == 0 || (var.backup_retention_days >= 1 && var.backup_retention_days <= 98)
    error_message = "backup_retention_days must be 0 (off) or between 1 and 98 (Firestore keeps a backup at most 14 weeks)."
  }
}

variable "ttl_fields" {
  description = "Collection => field holding a timestamp after which Firestore TTL deletes the document (within about a day: the code checks expiry itself)."
  type        = map(string)
  default = {
    processed_notifications = "expires_at"
    idempotency             = "expires_at"
    # Merchant events: shared/adapters/store/outbox.py sets expires_at = hand-over + 30 days, far past
    # the merchant-events queue's 3-day retry limit. A pending event has no expires_at, so
    # TTL never deletes an event that was not handed to Cloud Tasks (unless it was written
    # where no shop URL is configured: then creation + 30 days).
    outbox = "expires_at"
    # mpctl refund's 10-minute repeat guard (shared/adapters/store/refund_log.py): kept 1 day.
    operator_refunds = "expires_at"
    # create_payment's attempt limits (shared/adapters/store/limits.py): window counters (window end +
    # 60 s) and per-order attempt slots (30 days).
    rate_limits         = "expires_at"
    order_attempt_slots = "expires_at"
    # Expired (abandoned) orders only: shared/usecases/expiry.py sets expires_at when it cancels one;
    # a payment applied later removes it. No other order has the field.
    orders = "expires_at"
  }
}

variable "composite_indexes" {
  description = <<-EOT
    Composite indexes, one per query that needs one (several filters, or a filter plus an
    order on another field). Single-field equality/range queries are served by Firestore's
    automatic single-field indexes. Declare the index of every new such query here: the
    emulator runs any query, while production answers FAILED_PRECONDITION without its index.
    Firestore appends __name__ (in the last field's direction) itself.
  EOT
  type = list(object({
    collection = string
    fields = list(object({
      field_path = string
      order      = string
    }))
  }))
  default = [
    # reconcile (shared/usecases/reconcile.py): pending orders older than
    # RECONCILE_PENDING_AFTER_MINUTES, oldest first
    # (status == "pending" AND created_at <= cutoff ORDER BY created_at).
    {
      collection = "orders"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    },
    # reconcile (shared/usecases/expiry.py): pending orders whose last recorded attempt is still live
    # (status == "pending" AND last_payment.status IN [...] AND created_at <= cutoff
    # ORDER BY created_at DESC), checked before the junk-prone oldest-first pass.
    {
      collection = "orders"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "last_payment.status", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    },
    # Unreplayed dead letters, newest first (shared/adapters/store/dead_letters.py:
    # replayed == false ORDER BY created_at DESC).
    {
      collection = "dead_letters"
      fields = [
        { field_path = "replayed", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    },
    # Pending merchant events of one order (shared/adapters/store/outbox.py:
    # order_id == X AND state == "pending"). Two
    # equalities can be served by merging single-field indexes; the composite one makes the
    # query one index scan whatever the size of the collection.
    {
      collection = "outbox"
      fields = [
        { field_path = "order_id", order = "ASCENDING" },
        { field_path = "state", order = "ASCENDING" },
      ]
    },
  ]
}

resource "google_firestore_database" "this" {
  project     = var.project_id
  name        = var.database_id
  location_id = var.location_id
  type        = "FIRESTORE_NATIVE"

  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = var.protect ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.protect ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.protect ? "ABANDON" : "DELETE"
}

resource "google_firestore_field" "ttl" {
  for_each = var.ttl_fields

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.key
  field      = each.value

  ttl_config {}

  # Keep the automatic single-field indexes off for the TTL field: it is never queried, and
  # indexing a monotonically increasing timestamp creates write hot spots.
  index_config {}
}

resource "google_firestore_index" "composite" {
  for_each = { for i in var.composite_indexes : "${i.collection}:${join(",", [for f in i.fields : "${f.field_path}:${f.order}"])}" => i }

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# One backup a day of the whole database, kept backup_retention_days. Backups are stored in
# the database's location and are listed with
# `gcloud firestore backups list --location=<location>`.
resource "google_firestore_backup_schedule" "daily" {
  count = var.backup_retention_days > 0 ? 1 : 0

  project   = var.project_id
  database  = google_firestore_database.this.name
  retention = "${var.backup_retention_days * 86400}s"

  daily_recurrence {}
}

# Security rules: deny-all for client SDKs (web and mobile apps talking to Firestore directly).
# Only the functions' service accounts reach the data, through IAM, which rules do not apply
# to. An explicit ruleset means a console "test mode" default can never open the database.
resource "google_firebaserules_ruleset" "deny_all" {
  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = <<-EOT
        rules_version = '2';
        service cloud.firestore {
          match /databases/{database}/documents {
            match /{document=**} {
              allow read, write: if false;
            }
          }
        }
      EOT
    }
  }

  depends_on = [google_firestore_database.this]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project_id
  name         = google_firestore_database.this.name == "(default)" ? "cloud.firestore" : "cloud.firestore/${google_firestore_database.this.name}"
  ruleset_name = google_firebaserules_ruleset.deny_all.name

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.deny_all]
  }
}

output "database_id" {
  description = "Database id (FIRESTORE_DATABASE)."
  value       = google_firestore_database.this.name
}

output "database_resource_name" {
  description = "projects/P/databases/D, for IAM conditions limiting roles/datastore.user to this database."
  value       = "projects/${var.project_id}/databases/${google_firestore_database.this.name}"
}
