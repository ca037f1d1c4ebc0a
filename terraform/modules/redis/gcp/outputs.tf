output "endpoints" {
  description = "host:port of the Redis primary per region."
  value       = { for r, i in google_redis_instance.this : r => "${i.host}:${i.port}" }
}

output "redis_url_secrets" {
  description = "Per region, per service (token, authz, audit): the Secret Manager secret id holding its REDIS_URL."
  value = { for r in var.regions : r => {
    for k, v in local.region_services : v.service => google_secret_manager_secret.redis_url[k].id if v.region == r
  } }
  depends_on = [google_secret_manager_secret_version.redis_url]
}
