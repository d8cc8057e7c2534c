output "create_payment_url" {
  description = "URL of create_payment."
  value       = module.stack.create_payment_url
}

output "ipn_webhook_url" {
  description = "URL of ipn_webhook."
  value       = module.stack.ipn_webhook_url
}

output "fulfill_url" {
  description = "URL of fulfill."
  value       = module.stack.fulfill_url
}

output "reconcile_url" {
  description = "URL of reconcile."
  value       = module.stack.reconcile_url
}

output "reconcile_job" {
  description = "Cloud Scheduler job of reconcile."
  value       = module.stack.reconcile_job
}

output "mercado_pago_notification_url" {
  description = "Paste into Mercado Pago's dashboard as the webhook URL."
  value       = module.stack.mercado_pago_notification_url
}

output "function_sources" {
  description = "Zip object each function runs."
  value       = module.stack.function_sources
}

output "service_accounts" {
  description = "Service accounts of the deployment."
  value       = module.stack.service_accounts
}

output "secret_ids" {
  description = "Secrets that need versions."
  value       = module.stack.secret_ids
}
