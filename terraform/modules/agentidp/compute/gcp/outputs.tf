output "backends" {
  description = "Per region, what the load balancer sends traffic to: the Cloud Run service name (for a serverless NEG)."
  value       = { for r, s in google_cloud_run_v2_service.this : r => s.name }
}

output "services" {
  description = "Per region, per service: the Cloud Run service (and container) it runs in."
  value       = { for r, s in google_cloud_run_v2_service.this : r => { for name in keys(var.services) : name => "${s.id}#${local.container[name]}" } }
}

output "gateway_config" {
  description = "The control plane's config file (every endpoint on 127.0.0.1)."
  value       = local.gateway_config
}

output "db_init_command" {
  description = "None on Google Cloud: the rds module creates databases and users through the Cloud SQL API. Null, for the shared interface."
  value       = null
}
