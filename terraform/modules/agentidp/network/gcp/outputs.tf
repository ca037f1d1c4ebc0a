output "network_ids" {
  description = "The VPC per region (one global network: the same id for every region)."
  value       = { for r in var.regions : r => google_compute_network.this.id }
  # Databases and Redis need the private services connection, not only the network.
  depends_on = [google_service_networking_connection.this]
}

output "subnet_ids" {
  description = "Subnet per region (Cloud Run direct VPC egress), as a one-element list."
  value       = { for r, s in google_compute_subnetwork.this : r => [s.id] }
}

output "public_subnet_ids" {
  description = "None on Google Cloud: the HTTPS load balancer is global and reaches Cloud Run through serverless NEGs. Empty lists, for the shared interface."
  value       = { for r in var.regions : r => [] }
}

output "cidr_blocks" {
  description = "Address ranges per region that the mesh's instances come from."
  value       = { for r in var.regions : r => [var.subnet_cidrs[r]] }
}

output "egress_ips" {
  description = "Static egress (Cloud NAT) addresses per region: allow these at your Vault."
  value       = { for r in var.regions : r => [google_compute_address.nat[r].address] }
}
