output "url" {
  description = "The public API (and the tokens' issuer)."
  value       = module.lb.url
}

output "address" {
  description = "The load balancer's global IP: create domain_name's A record with it (the certificate is issued once it resolves)."
  value       = module.lb.addresses[var.regions[0]]
}

output "platform_admin_vault_path" {
  description = "Where the first platform admin's credential is: a Vault KV v2 entry, written when the first instance starts (vault kv get -mount=<mount> <path>)."
  value       = module.compute.platform_admin_vault_path
}

output "egress_ips" {
  description = "Per region, the Cloud NAT addresses the services reach Vault from (allow them there)."
  value       = module.network.egress_ips
}

output "database_primary" {
  description = "host:port (private IP) of the writable database."
  value       = module.rds.primary_endpoint
}

output "database_replicas" {
  description = "Per secondary region, host:port of the read replica (promote it if the primary region is lost)."
  value       = module.rds.replica_endpoints
}

output "cloud_run_services" {
  description = "Per region, the Cloud Run service running the mesh."
  value       = module.compute.backends
}

output "gateway_config" {
  description = "The gateway control plane's config file, as deployed."
  value       = module.compute.gateway_config
}

output "db_init_command" {
  description = "Runs the db-init job (each service's confined database login) by hand; every apply already runs it before updating the service."
  value       = module.compute.db_init_command
}

output "mesh_ca" {
  description = "The mesh CA certificate (PEM) every process trusts: to check a service's certificate, or to issue a mesh client by hand."
  value       = module.compute.mesh_ca
}
