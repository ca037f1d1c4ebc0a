output "endpoints" {
  description = "host:port of the Redis primary per region."
  value       = { for r, i in google_redis_instance.this : r => "${i.host}:${i.port}" }
}

output "redis_url_secrets" {
  description = "Per region, the Secret Manager secret id holding REDIS_URL."
  value       = { for r, s in google_secret_manager_secret.redis_url : r => s.id }
  depends_on  = [google_secret_manager_secret_version.redis_url]
}
