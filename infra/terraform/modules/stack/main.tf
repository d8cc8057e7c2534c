# The whole application for one environment (one Google Cloud project). The environment roots
# (environments/staging, environments/prod) differ only in their inputs.
#
# Adding a function = one `module "<name>"` block below, plus its package in var.packages
# (tools/build_package.py builds one per entry_<name>.py; the validation lists the required
# ones) and its output. reconcile (below) is the latest example, with its Cloud Scheduler job.

terraform {
  required_version = ">= 1.11"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
    # time_sleep: waits for IAM propagation before builds and for the log-based metrics'
    # descriptors before their alert policies. Pinned to the version whose schema the offline
    # check reads (cdktf-cdktf-provider-time 11.0.1 = hashicorp/time 0.13.1).
    time = {
      source  = "hashicorp/time"
      version = "0.13.1"
    }
  }
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = {
    app         = "mp-payments"
    environment = var.environment
  }

  # Secret ids (docs/contracts.md). Created without versions.
  secret_ids = [
    "mp-access-token",
    "mp-webhook-secret",
    "mp-webhook-secret-previous",
    "merchant-webhook-secret",
    "rate-limit-key",
  ]

  # One audience per internal service. fulfill and reconcile are called with ID tokens whose
  # `aud` they check, and the callers (ipn_webhook's and reconcile's fulfil tasks, the Cloud
  # Scheduler job) must put the very same value in their tokens and target the same URL.
  # Cloud Run gives every service a deterministic URL,
  # https://<service>-<project number>.<region>.run.app, and the service behind a function is
  # named after the function. Google does not document which of a service's URLs
  # `service_config[0].uri` reports, so that attribute is used nowhere: the deterministic URL
  # is derived here, once, and is the task target (FULFILL_URL), the token audience
  # (FULFILL_AUTH_AUDIENCE, RECONCILE_AUTH_AUDIENCE) and the scheduler job's uri and audience.
  # (It also avoids the cycle of a function referencing its own URL.) Cloud Run's IAM check
  # accepts a token for any of the service's run.app URLs, and requests to a run.app URL from
  # Cloud Tasks and Cloud Scheduler in this project count as internal (ingress).
  # tests/infra/test_settings.py checks that every function sees the same value.
  internal_urls = {
    for service in ["fulfill", "reconcile"] :
    service => "https://${service}-${data.google_project.this.number}.${var.region}.run.app"
  }
  fulfill_url   = local.internal_urls["fulfill"]
  reconcile_url = local.internal_urls["reconcile"]

  # How fulfill and reconcile check their callers (CALLER_AUTH, docs/contracts.md): Cloud
  # Run's IAM check verifies the ID token's signature (run.invoker for one account only) and
  # forwards it with the signature removed; the function then checks the claims (audience,
  # account, expiry, issuer) itself.
  caller_auth = "cloud_run_iam"

  # The edge (modules/edge): with the load balancer, create_payment and ipn_webhook take
  # traffic from it only, Mercado Pago is given the load balancer's webhook URL, and the
  # client address is one X-Forwarded-For hop further left.
  edge_lb           = var.edge == "load_balancer"
  public_ingress    = local.edge_lb ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
  edge_webhook_path = "/mercadopago/webhook"
  notification_base = local.edge_lb ? "https://${var.domain}${local.edge_webhook_path}" : module.ipn_webhook.uri
  client_ip_hops    = local.edge_lb ? 2 : var.client_ip_trusted_hops

  # reconcile's request timeout; the scheduler job's attempt_deadline is derived from it.
  reconcile_timeout_seconds = local.limits.reconcile_timeout_seconds

  # Every capacity limit, validated against the others (modules/limits, docs/capacity.md).
  limits = module.limits.values

  # What fulfill is told about its retry budget; the fulfil queue checks its max_attempts
  # against FULFILL_MAX_ATTEMPTS (a precondition in modules/queues).
  fulfill_attempts_env = {
    FULFILL_MAX_ATTEMPTS         = tostring(var.fulfill_max_attempts)
    UNKNOWN_PAYMENT_MAX_ATTEMPTS = tostring(local.limits.unknown_payment_max_attempts)
  }

  common_env = {
    LOG_LEVEL                = var.log_level
    SECRET_CACHE_TTL_SECONDS = tostring(var.secret_cache_ttl_seconds)
  }

  build = {
    source_bucket     = module.build.source_bucket
    docker_repository = module.build.docker_repository
    builder_id        = module.identities.builder_id
  }
}

module "limits" {
  source = "../limits"

  design_payments_per_second            = var.design_payments_per_second
  notifications_per_payment             = var.notifications_per_payment
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

module "project_services" {
  source     = "../project_services"
  project_id = var.project_id
}

module "identities" {
  source     = "../identities"
  project_id = var.project_id
  depends_on = [module.project_services]
}

module "build" {
  source               = "../build"
  project_id           = var.project_id
  region               = var.region
  source_bucket_name   = var.source_bucket_name
  builder_email        = module.identities.builder_email
  force_destroy        = !var.protect
  labels               = local.labels
  iam_propagation_wait = var.iam_propagation_wait
  depends_on           = [module.project_services]
}

module "secrets" {
  source     = "../secrets"
  project_id = var.project_id
  secret_ids = local.secret_ids
  labels     = local.labels
  depends_on = [module.project_services]
}

module "firestore" {
  source                = "../firestore"
  project_id            = var.project_id
  database_id           = var.firestore_database_id
  location_id           = var.firestore_location
  protect               = var.protect
  backup_retention_days = var.firestore_backup_retention_days
  depends_on            = [module.project_services]
}

module "queues" {
  source               = "../queues"
  project_id           = var.project_id
  location             = var.region
  fulfill_max_attempts = var.fulfill_max_attempts
  depends_on           = [module.project_services]

  fulfill_max_dispatches_per_second         = local.limits.fulfill_queue_dispatches_per_second
  fulfill_max_concurrent_dispatches         = local.limits.fulfill_queue_max_concurrent
  fulfill_function_max_attempts             = tonumber(local.fulfill_attempts_env.FULFILL_MAX_ATTEMPTS)
  merchant_events_max_dispatches_per_second = local.limits.merchant_events_dispatches_per_second
  merchant_events_max_concurrent_dispatches = local.limits.merchant_events_max_concurrent
  merchant_events_max_attempts              = local.limits.merchant_events_max_attempts
  merchant_events_max_retry_hours           = local.limits.merchant_events_max_retry_hours
}

module "observability" {
  source                   = "../observability"
  project_id               = var.project_id
  environment              = var.environment
  notification_channel_ids = var.notification_channel_ids
  caller_checked_services  = keys(local.internal_urls)
  depends_on               = [module.project_services]
}

# --- functions -------------------------------------------------------------------------
#
# Sizing: the three request-driven functions are I/O bound (Mercado Pago API, Firestore, Cloud Tasks), so each instance
# takes many concurrent requests on threads; concurrency above 1 requires a whole vCPU.
# 512Mi fits Python 3.12 with the gRPC clients and leaves room for request bodies (64 KiB cap).

# Browsers create payments: public (it validates input and prices from Firestore itself),
# ALLOW_ALL ingress. Timeout 30 s covers a Mercado Pago call (MP_TIMEOUT_SECONDS 8) with a
# retry plus Firestore writes. A warm instance in prod keeps checkout free of cold starts.
module "create_payment" {
  source = "../function"

  project_id        = var.project_id
  region            = var.region
  name              = "create_payment"
  description       = "Creates an order and its Mercado Pago payment; called by browsers."
  source_bucket     = local.build.source_bucket
  docker_repository = local.build.docker_repository
  builder_id        = local.build.builder_id
  package           = var.packages["create_payment"]
  labels            = local.labels

  iam_propagation_wait = var.iam_propagation_wait

  memory          = "512Mi"
  cpu             = "1"
  concurrency     = local.limits.concurrency["create_payment"]
  min_instances   = local.limits.min_instances["create_payment"]
  max_instances   = local.limits.max_instances["create_payment"]
  timeout_seconds = 30
  ingress         = local.public_ingress
  public          = true

  all_users_invoker = var.public_invoker_grant

  environment = merge(local.common_env, {
    FIRESTORE_DATABASE = module.firestore.database_id
    NOTIFICATION_URL   = local.notification_base
    # Attempt limits (docs/contracts.md, "Attempt limits"); "0" switches one off.
    MAX_ATTEMPTS_PER_ORDER = tostring(var.attempt_limits.max_attempts_per_order)
    RATE_LIMIT_CARD        = var.attempt_limits.card
    RATE_LIMIT_PAYER       = var.attempt_limits.payer
    RATE_LIMIT_IP          = var.attempt_limits.ip
    RATE_LIMIT_ORDERS_IP   = var.attempt_limits.orders_ip
    CLIENT_IP_TRUSTED_HOPS = tostring(local.client_ip_hops)
    }, var.recaptcha.enabled ? {
    # The optional bot check (docs/contracts.md, "Bot check").
    RECAPTCHA_SITE_KEY  = google_recaptcha_enterprise_key.checkout[0].name
    RECAPTCHA_MIN_SCORE = tostring(var.recaptcha.min_score)
    RECAPTCHA_FAIL_OPEN = var.recaptcha.fail_open ? "true" : "false"
    } : {}, length(var.cors_allowed_origins) == 0 ? {} : {
    CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
  })
  secrets = {
    MP_ACCESS_TOKEN = module.secrets.secret_ids["mp-access-token"]
    RATE_LIMIT_KEY  = module.secrets.secret_ids["rate-limit-key"]
  }
  firestore_database = module.firestore.database_resource_name

  # Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, Secret Manager, IAM: the
  # APIs must be on before anything in the module is created.
  depends_on = [module.project_services]
}

# Mercado Pago posts notifications: public (every request must carry a valid x-signature
# HMAC), ALLOW_ALL ingress. It only verifies and enqueues a fulfil task, so it is fast:
# timeout 15 s (Mercado Pago waits 22 s before retrying). It touches no Firestore and no
# access token; it creates OIDC tasks, hence serviceAccountUser on the tasks account.
module "ipn_webhook" {
  source = "../function"

  project_id        = var.project_id
  region            = var.region
  name              = "ipn_webhook"
  description       = "Verifies Mercado Pago notifications and enqueues fulfil tasks; called by Mercado Pago."
  source_bucket     = local.build.source_bucket
  docker_repository = local.build.docker_repository
  builder_id        = local.build.builder_id
  package           = var.packages["ipn_webhook"]
  labels            = local.labels

  iam_propagation_wait = var.iam_propagation_wait

  memory          = "512Mi"
  cpu             = "1"
  concurrency     = local.limits.concurrency["ipn_webhook"]
  min_instances   = local.limits.min_instances["ipn_webhook"]
  max_instances   = local.limits.max_instances["ipn_webhook"]
  timeout_seconds = 15
  ingress         = local.public_ingress
  public          = true

  all_users_invoker = var.public_invoker_grant

  environment = merge(local.common_env, {
    TASKS_LOCATION        = var.region
    FULFILL_QUEUE         = module.queues.fulfill_queue_id
    FULFILL_URL           = local.fulfill_url
    FULFILL_AUTH_AUDIENCE = local.fulfill_url
    TASKS_SERVICE_ACCOUNT = module.identities.tasks_invoker_email
  })
  secrets = {
    MP_WEBHOOK_SECRET          = module.secrets.secret_ids["mp-webhook-secret"]
    MP_WEBHOOK_SECRET_PREVIOUS = module.secrets.secret_ids["mp-webhook-secret-previous"]
  }
  enqueue_queues = {
    fulfill = module.queues.queue_ids["fulfill"]
  }
  act_as = {
    tasks_invoker = module.identities.tasks_invoker_id
  }

  # Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, Secret Manager, IAM: the
  # APIs must be on before anything in the module is created.
  depends_on = [module.project_services]
}

# Only Cloud Tasks calls fulfill, with an OIDC token of the tasks account: no public access,
# ALLOW_INTERNAL_ONLY ingress (Cloud Tasks requests from the same project count as internal).
# Timeout 60 s = the fulfil tasks' dispatch_deadline. max_instances x concurrency (10 x 20 by
# default) covers the fulfil queue's concurrent dispatches (100; checked in modules/limits). Its own merchant-events tasks carry no
# OIDC token, so it needs no serviceAccountUser.
module "fulfill" {
  source = "../function"

  project_id        = var.project_id
  region            = var.region
  name              = "fulfill"
  description       = "Applies a Mercado Pago payment to its order; called by Cloud Tasks only."
  source_bucket     = local.build.source_bucket
  docker_repository = local.build.docker_repository
  builder_id        = local.build.builder_id
  package           = var.packages["fulfill"]
  labels            = local.labels

  iam_propagation_wait = var.iam_propagation_wait

  memory          = "512Mi"
  cpu             = "1"
  concurrency     = local.limits.concurrency["fulfill"]
  min_instances   = local.limits.min_instances["fulfill"]
  max_instances   = local.limits.max_instances["fulfill"]
  timeout_seconds = 60
  ingress         = "ALLOW_INTERNAL_ONLY"
  public          = false
  invokers = {
    tasks = "serviceAccount:${module.identities.tasks_invoker_email}"
  }

  environment = merge(local.common_env, local.fulfill_attempts_env, {
    FIRESTORE_DATABASE              = module.firestore.database_id
    TASKS_LOCATION                  = var.region
    MERCHANT_EVENTS_QUEUE           = module.queues.merchant_events_queue_id
    TASKS_SERVICE_ACCOUNT           = module.identities.tasks_invoker_email
    CALLER_AUTH                     = local.caller_auth
    FULFILL_AUTH_AUDIENCE           = local.fulfill_url
    FULFILL_ALLOWED_SERVICE_ACCOUNT = module.identities.tasks_invoker_email
    }, var.merchant_webhook_url == "" ? {} : {
    # Unset = no merchant events (docs/contracts.md).
    MERCHANT_WEBHOOK_URL = var.merchant_webhook_url
  })
  secrets = {
    MP_ACCESS_TOKEN         = module.secrets.secret_ids["mp-access-token"]
    MERCHANT_WEBHOOK_SECRET = module.secrets.secret_ids["merchant-webhook-secret"]
  }
  firestore_database = module.firestore.database_resource_name
  enqueue_queues = {
    merchant_events = module.queues.queue_ids["merchant_events"]
  }

  # Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, Secret Manager, IAM: the
  # APIs must be on before anything in the module is created.
  depends_on = [module.project_services]
}


# Cloud Scheduler calls reconcile every 10 minutes (var.reconcile_schedule) with an OIDC token
# of the scheduler account; nothing else may invoke it (run.invoker for that account only).
# It searches Mercado Pago for recently updated payments and Firestore for old pending orders,
# and enqueues fulfil tasks for what the webhook path missed, so it needs what ipn_webhook
# needs to enqueue (enqueuer on the fulfil queue, serviceAccountUser on the tasks account whose
# OIDC token its tasks carry) plus Firestore and the access token.
#
# Ingress ALLOW_INTERNAL_ONLY, like fulfill: Cloud Run's ingress documentation
# (https://cloud.google.com/run/docs/securing/ingress, "Internal") counts requests from Cloud
# Scheduler and Cloud Tasks as internal when they are in the same project (or VPC Service
# Controls perimeter) as the service and use its default run.app URL, not a custom domain. The
# job below is in this project and targets the service's deterministic run.app URL (locals).
# If the job were ever moved to another project or pointed at a custom domain, its calls
# would be refused before IAM (403/404, a failed attempt in the job's logs): the
# reconcile_job_failures alert (modules/observability) catches that.
#
# Sizing: one run at a time (max 1 instance, concurrency 1; a run that overlaps the next tick
# would only repeat work), fractional CPU (allowed with concurrency 1), 512Mi like the
# others for the gRPC clients and a page of payments in memory. A run stops itself after
# RECONCILE_TIME_BUDGET_SECONDS (240 s), well under its 300 s timeout, saving its cursors after
# every page; the next run continues where it stopped (docs/capacity.md: throughput).
module "reconcile" {
  source = "../function"

  project_id        = var.project_id
  region            = var.region
  name              = "reconcile"
  description       = "Finds payments and pending orders the webhook path missed and enqueues fulfil tasks; called by Cloud Scheduler only."
  source_bucket     = local.build.source_bucket
  docker_repository = local.build.docker_repository
  builder_id        = local.build.builder_id
  package           = var.packages["reconcile"]
  labels            = local.labels

  iam_propagation_wait = var.iam_propagation_wait

  memory          = "512Mi"
  cpu             = "0.5"
  concurrency     = 1
  min_instances   = 0
  max_instances   = 1
  timeout_seconds = local.reconcile_timeout_seconds
  ingress         = "ALLOW_INTERNAL_ONLY"
  public          = false
  invokers = {
    scheduler = "serviceAccount:${module.identities.scheduler_email}"
  }

  environment = merge(local.common_env, {
    FIRESTORE_DATABASE                = module.firestore.database_id
    TASKS_LOCATION                    = var.region
    FULFILL_QUEUE                     = module.queues.fulfill_queue_id
    FULFILL_URL                       = local.fulfill_url
    TASKS_SERVICE_ACCOUNT             = module.identities.tasks_invoker_email
    FULFILL_AUTH_AUDIENCE             = local.fulfill_url
    CALLER_AUTH                       = local.caller_auth
    RECONCILE_AUTH_AUDIENCE           = local.reconcile_url
    RECONCILE_ALLOWED_SERVICE_ACCOUNT = module.identities.scheduler_email
    RECONCILE_WINDOW_MINUTES          = tostring(var.reconcile_window_minutes)
    RECONCILE_PENDING_AFTER_MINUTES   = tostring(var.reconcile_pending_after_minutes)
    RECONCILE_MAX_ITEMS               = tostring(local.limits.reconcile_max_items)
    RECONCILE_TIME_BUDGET_SECONDS     = tostring(local.limits.reconcile_time_budget_seconds)
    RECONCILE_PENDING_SHARE_PERCENT   = tostring(local.limits.reconcile_pending_share_percent)
  })
  secrets = {
    MP_ACCESS_TOKEN = module.secrets.secret_ids["mp-access-token"]
  }
  firestore_database = module.firestore.database_resource_name
  enqueue_queues = {
    fulfill = module.queues.queue_ids["fulfill"]
  }
  act_as = {
    tasks_invoker = module.identities.tasks_invoker_id
  }

  # Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, Secret Manager, IAM: the
  # APIs must be on before anything in the module is created.
  depends_on = [module.project_services]
}

resource "google_cloud_scheduler_job" "reconcile" {
  project     = var.project_id
  region      = var.region
  name        = "reconcile"
  description = "Runs reconcile (docs/deploying.md): catches payments whose notification was lost."
  schedule    = var.reconcile_schedule
  time_zone   = "Etc/UTC"

  # The function's own timeout plus 20 s for a cold start and the network: the job then
  # records reconcile's answer (including Cloud Run's 504 when a pass hits its timeout) rather
  # than cutting the request while the pass still runs.
  attempt_deadline = "${local.reconcile_timeout_seconds + 20}s"

  # One retry, 30 s later, for a transient failure (cold start error, Mercado Pago or
  # Firestore hiccup); anything longer is left to the next tick, which covers the same window
  # again (RECONCILE_WINDOW_MINUTES is 3 ticks by default). Bounded by count only.
  retry_config {
    retry_count          = 1
    max_retry_duration   = "0s"
    min_backoff_duration = "30s"
    max_backoff_duration = "60s"
    max_doublings        = 1
  }

  http_target {
    uri         = local.reconcile_url
    http_method = "POST"
    body        = base64encode("{}")
    headers = {
      "Content-Type" = "application/json"
    }

    # The job signs an ID token as the scheduler account (which holds run.invoker on
    # reconcile only); reconcile also checks its `aud` and `email` itself.
    oidc_token {
      service_account_email = module.identities.scheduler_email
      audience              = local.reconcile_url
    }
  }

  # The invoker grant lives in the module: without it the first runs would get 403.
  depends_on = [module.reconcile, module.project_services]
}

# create_payment's optional bot check: a score-based reCAPTCHA Enterprise key for the shop's
# domains, and the right to create assessments for create_payment's account only.
resource "google_recaptcha_enterprise_key" "checkout" {
  count = var.recaptcha.enabled ? 1 : 0

  project      = var.project_id
  display_name = "checkout-${var.environment}"
  labels       = local.labels

  web_settings {
    integration_type  = "SCORE"
    allow_all_domains = false
    allowed_domains   = var.recaptcha.domains
  }

  depends_on = [module.project_services]
}

resource "google_project_iam_member" "create_payment_recaptcha" {
  count = var.recaptcha.enabled ? 1 : 0

  project = var.project_id
  role    = "roles/recaptchaenterprise.agent"
  member  = "serviceAccount:${module.create_payment.service_account_email}"
}

# The optional load balancer edge (var.edge = "load_balancer"; docs/deploying.md, "The edge").
module "edge" {
  source = "../edge"
  count  = local.edge_lb ? 1 : 0

  project_id   = var.project_id
  region       = var.region
  domain       = var.domain
  webhook_path = local.edge_webhook_path
  services = {
    create_payment = module.create_payment.service
    ipn_webhook    = module.ipn_webhook.service
  }
}
