output "url" {
  description = "The public base URL of the API."
  value       = "https://${var.domain_name}"
}

output "addresses" {
  description = "Per region, the address clients use: the one global anycast IP (create domain_name's A record with it)."
  value       = { for r in var.regions : r => google_compute_global_address.this.address }
}
