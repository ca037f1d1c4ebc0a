output "services" {
  description = "Every process of the mesh by name: image, ports, protocol, calls, stores, literal env, size and replica range (see main.tf)."
  value       = local.services
}

output "envoy" {
  description = "Envoy beside the gateway control plane: image, listener port, stats port, size."
  value       = local.envoy
}

output "gateway_config_path" {
  description = "Where the gateway control plane reads its config file (GATEWAY_CONFIG)."
  value       = local.gateway_config_path
}

output "database_services" {
  description = "Services that own a PostgreSQL database (one database and role each, named agentidp_<service>)."
  value       = sort([for name, s in local.services : name if contains(s.stores, "postgres")])
}

output "routed_services" {
  description = "Services the gateway routes public paths to, for its config file."
  value       = sort([for name, s in local.services : name if s.routed])
}
