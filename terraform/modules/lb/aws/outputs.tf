output "url" {
  description = "The public base URL of the API."
  value       = "https://${var.domain_name}"
}

output "addresses" {
  description = "Per region, the load balancer's DNS name (point domain_name at these yourself when route53_zone_id is null)."
  value       = { for r, lb in aws_lb.this : r => lb.dns_name }
}
