output "endpoints" {
  description = "host:port of the Redis primary per region."
  value       = { for r, g in aws_elasticache_replication_group.this : r => "${g.primary_endpoint_address}:6379" }
}

output "redis_url_secrets" {
  description = "Per region, per service (token, authz, audit): the Secrets Manager ARN holding its REDIS_URL."
  value = { for r in distinct([for k, u in local.region_users : u.region]) : r => {
    for k, u in local.region_users : u.user => aws_secretsmanager_secret.redis_url[k].arn if u.region == r
  } }
  depends_on = [aws_secretsmanager_secret_version.redis_url]
}
