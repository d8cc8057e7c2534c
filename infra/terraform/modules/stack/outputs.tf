output "create_payment_url" {
  description = "URL of create_payment (the shop's checkout calls it)."
  value       = module.create_payment.uri
}

output "ipn_webhook_url" {
  description = "URL of ipn_webhook."
  value       = module.ipn_webhook.uri
}

output "fulfill_url" {
  description = "URL of fulfill (Cloud Tasks only): the deterministic run.app URL, which is also the fulfil tasks' target and token audience."
  value       = local.fulfill_url
}

output "reconcile_url" {
  description = "URL of reconcile (Cloud Scheduler only): the deterministic run.app URL, which is also the scheduler job's target and token audience."
  value       = local.reconcile_url
}

output "reconcile_job" {
  description = "Cloud Scheduler job calling reconcile (gcloud scheduler jobs run ... to trigger a run now)."
  value       = google_cloud_scheduler_job.reconcile.id
}

output "mercado_pago_notification_url" {
  description = "Paste this exact URL into Mercado Pago's dashboard (Your integrations > Webhooks > URL)."
  value       = "${local.notification_base}?source_news=webhooks"
}

output "function_sources" {
  description = "Function => gs:// object of the zip it runs (the name carries the sha256: note it for rollbacks)."
  value = {
    create_payment = module.create_payment.source_object
    ipn_webhook    = module.ipn_webhook.source_object
    fulfill        = module.fulfill.source_object
    reconcile      = module.reconcile.source_object
  }
}

output "service_accounts" {
  description = "Runtime and helper service accounts."
  value = {
    create_payment = module.create_payment.service_account_email
    ipn_webhook    = module.ipn_webhook.service_account_email
    fulfill        = module.fulfill.service_account_email
    reconcile      = module.reconcile.service_account_email
    tasks_invoker  = module.identities.tasks_invoker_email
    scheduler      = module.identities.scheduler_email
    builder        = module.identities.builder_email
  }
}

output "secret_ids" {
  description = "Secrets to add versions to (gcloud secrets versions add ID --data-file=-)."
  value       = keys(module.secrets.secret_ids)
}

output "edge_ip_address" {
  description = "With edge = load_balancer: the address var.domain's A record points at."
  value       = local.edge_lb ? module.edge[0].ip_address : null
}
