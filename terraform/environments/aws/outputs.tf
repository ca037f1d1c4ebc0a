output "url" {
  description = "The public API (and the tokens' issuer)."
  value       = module.lb.url
}

output "load_balancers" {
  description = "Per region, the load balancer's DNS name."
  value       = module.lb.addresses
}

output "db_init_command" {
  description = "Run once after the first apply: creates each service's role and database."
  value       = module.compute.db_init_command
}

output "bootstrap_command" {
  description = "Run once after db_init_command: registers the first platform admin and writes its credential to Vault (platform_admin_vault_path). A rerun changes nothing."
  value       = module.compute.bootstrap_command
}

output "platform_admin_vault_path" {
  description = "Where the first platform admin's credential is: a Vault KV v2 entry (vault kv get -mount=<mount> <path>)."
  value       = module.compute.platform_admin_vault_path
}

output "egress_ips" {
  description = "Per region, the NAT addresses the services reach Vault from (allow them there)."
  value       = module.network.egress_ips
}

output "database_primary" {
  description = "host:port of the writable database."
  value       = module.rds.primary_endpoint
}

output "database_replicas" {
  description = "Per secondary region, host:port of the read replica (promote it if the primary region is lost)."
  value       = module.rds.replica_endpoints
}

output "gateway_config" {
  description = "The gateway control plane's config file, as deployed."
  value       = module.compute.gateway_config
}

output "mesh_ca" {
  description = "The mesh CA certificate (PEM) every process trusts: to check a service's certificate, or to issue a mesh client by hand."
  value       = module.compute.mesh_ca
}
