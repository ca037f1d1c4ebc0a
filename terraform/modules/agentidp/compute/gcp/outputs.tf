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
  description = "Runs the db-init job again (every apply already runs it to completion before the service): creates each service's confined database login."
  value       = "gcloud run jobs execute ${google_cloud_run_v2_job.db_init.name} --project ${var.project_id} --region ${local.primary} --wait"
}

output "bootstrap_command" {
  description = "None on Google Cloud: the bootstrap runs in every instance, beside the services it calls on 127.0.0.1 (the instances expose only Envoy), and writes the first platform admin's credential to Vault (platform_admin_vault_path) when an instance starts. Null, for the shared interface."
  value       = null
}

output "platform_admin_vault_path" {
  description = "The Vault KV v2 entry (mount/path) the bootstrap writes the first platform admin's credential to: keys AGENTIDP_URL, AGENTIDP_CLIENT_ID, AGENTIDP_CLIENT_SECRET."
  value       = "${var.vault_mount}/${local.bootstrap_path}"
}

output "mesh_ca" {
  description = "The mesh CA certificate (PEM; its key stays in the state, agentidp/mesh-ca)."
  value       = module.mesh_ca.ca_pem
}
