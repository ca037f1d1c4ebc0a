output "network_ids" {
  description = "VPC id per region."
  value       = { for r, v in aws_vpc.this : r => v.id }
}

output "subnet_ids" {
  description = "Private subnet ids per region (tasks, databases, Redis)."
  value       = { for r in var.regions : r => [for k, s in aws_subnet.private : s.id if startswith(k, "${r}/")] }
}

output "public_subnet_ids" {
  description = "Public subnet ids per region (load balancers)."
  value       = { for r in var.regions : r => [for k, s in aws_subnet.public : s.id if startswith(k, "${r}/")] }
}

output "cidr_blocks" {
  description = "Address ranges per region that the mesh's tasks come from (for database and Redis firewalls)."
  value       = { for r in var.regions : r => [var.vpc_cidrs[r]] }
}

output "egress_ips" {
  description = "Public egress (NAT) addresses per region: allow these at your Vault."
  value       = { for r in var.regions : r => [for k, e in aws_eip.nat : e.public_ip if startswith(k, "${r}/")] }
}
