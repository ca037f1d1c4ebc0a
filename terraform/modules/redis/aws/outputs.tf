output "endpoints" {
  description = "host:port of the Redis primary per region."
  value       = { for r, g in aws_elasticache_replication_group.this : r => "${g.primary_endpoint_address}:6379" }
}

output "redis_url_secrets" {
  description = "Per region, the Secrets Manager ARN holding REDIS_URL."
  value       = { for r, s in aws_secretsmanager_secret.redis_url : r => s.arn }
  depends_on  = [aws_secretsmanager_secret_version.redis_url]
}
