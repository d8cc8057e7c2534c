# The optional edge (stack variable edge = "load_balancer"): a global external Application Load
# Balancer in front of create_payment and ipn_webhook, with a Google-managed certificate for
# var.domain and a Cloud Armor policy:
# - Mercado Pago's webhook path (var.webhook_path) is allowed first, so neither the WAF rules
#   nor the rate ban apply to it (Mercado Pago retries from a few addresses; every
#   notification is authenticated by its x-signature HMAC anyway);
# - a rate-based ban per client IP;
# - preconfigured WAF rules (CVE canaries such as Log4j, SQL injection, XSS, LFI, RCE, protocol
#   attacks), evaluated on the JSON bodies too (json_parsing = STANDARD).
# The functions then accept traffic from the load balancer only (ingress
# ALLOW_INTERNAL_AND_GCLB), and the load balancer adds one X-Forwarded-For hop
# (CLIENT_IP_TRUSTED_HOPS = 2).

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
  description = "Project of the load balancer."
  type        = string
}

variable "region" {
  description = "Region of the functions (their serverless NEGs)."
  type        = string
}

variable "domain" {
  description = "The shop's API domain (its DNS A record points at the load balancer's address)."
  type        = string
}

variable "services" {
  description = "Cloud Run services behind the functions: create_payment and ipn_webhook."
  type = object({
    create_payment = string
    ipn_webhook    = string
  })
}

variable "webhook_path" {
  description = "Path of Mercado Pago's notifications on the load balancer (ipn_webhook)."
  type        = string
  default     = "/mercadopago/webhook"
}

variable "rate_ban" {
  description = "Cloud Armor rate-based ban per client IP: requests per interval before a ban, and the ban's length."
  type = object({
    count        = optional(number, 300)
    interval_sec = optional(number, 60)
    ban_sec      = optional(number, 600)
  })
  default = {}
}

locals {
  waf_rules = {
    2000 = "sqli-v33-stable"
    2001 = "xss-v33-stable"
    2002 = "lfi-v33-stable"
    2003 = "rce-v33-stable"
    2004 = "protocolattack-v33-stable"
  }
}

# Compute Engine's API only with the edge (enabling it where it is not needed would create
# the project's default network).
resource "google_project_service" "compute" {
  project            = var.project_id
  service            = "compute.googleapis.com"
  disable_on_destroy = false
}

resource "google_compute_global_address" "edge" {
  project    = var.project_id
  name       = "payments-edge"
  depends_on = [google_project_service.compute]
}

resource "google_compute_region_network_endpoint_group" "fn" {
  for_each = var.services

  project               = var.project_id
  region                = var.region
  name                  = "neg-${replace(each.key, "_", "-")}"
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    service = each.value
  }
  depends_on = [google_project_service.compute]
}

resource "google_compute_security_policy" "edge" {
  project     = var.project_id
  name        = "payments-edge"
  description = "Rate ban per IP and WAF for the payments API; Mercado Pago's webhook exempt."
  depends_on  = [google_project_service.compute]

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  rule {
    priority    = 100
    action      = "allow"
    description = "Mercado Pago's notifications: no WAF, no rate ban (x-signature authenticates them)."
    match {
      expr {
        expression = "request.path == '${var.webhook_path}' || request.path.startsWith('${var.webhook_path}/') || request.path.startsWith('${var.webhook_path}?')"
      }
    }
  }

  rule {
    priority    = 1000
    action      = "rate_based_ban"
    description = "Ban a client IP sending more than the rate."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      enforce_on_key   = "IP"
      ban_duration_sec = var.rate_ban.ban_sec
      rate_limit_threshold {
        count        = var.rate_ban.count
        interval_sec = var.rate_ban.interval_sec
      }
    }
  }

  rule {
    priority    = 1999
    action      = "deny(403)"
    description = "Known CVE exploit attempts (Log4j JNDI lookups among them)."
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      priority    = rule.key
      action      = "deny(403)"
      description = "Preconfigured WAF: ${rule.value}"
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}', {'sensitivity': 1})"
        }
      }
    }
  }

  rule {
    priority    = 2147483647
    action      = "allow"
    description = "Default: allow."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "fn" {
  for_each = var.services

  project               = var.project_id
  name                  = "be-${replace(each.key, "_", "-")}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.edge.id

  backend {
    group = google_compute_region_network_endpoint_group.fn[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "edge" {
  project         = var.project_id
  name            = "payments-edge"
  default_service = google_compute_backend_service.fn["create_payment"].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.fn["create_payment"].id
    path_rule {
      paths   = [var.webhook_path, "${var.webhook_path}/*"]
      service = google_compute_backend_service.fn["ipn_webhook"].id
    }
  }
}

resource "google_compute_managed_ssl_certificate" "edge" {
  project = var.project_id
  name    = "payments-edge"
  managed {
    domains = [var.domain]
  }
}

resource "google_compute_ssl_policy" "edge" {
  project         = var.project_id
  name            = "payments-edge"
  profile         = "RESTRICTED"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "edge" {
  project          = var.project_id
  name             = "payments-edge"
  url_map          = google_compute_url_map.edge.id
  ssl_certificates = [google_compute_managed_ssl_certificate.edge.id]
  ssl_policy       = google_compute_ssl_policy.edge.id
}

resource "google_compute_global_forwarding_rule" "edge" {
  project               = var.project_id
  name                  = "payments-edge"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.edge.id
  port_range            = "443"
  target                = google_compute_target_https_proxy.edge.id
}

output "ip_address" {
  description = "The load balancer's address: point var.domain's A record at it."
  value       = google_compute_global_address.edge.address
}

output "notification_url" {
  description = "ipn_webhook through the load balancer: the URL given to Mercado Pago."
  value       = "https://${var.domain}${var.webhook_path}"
}

output "api_url" {
  description = "create_payment through the load balancer."
  value       = "https://${var.domain}"
}
