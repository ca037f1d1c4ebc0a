output "primary_endpoint" {
  description = "host:port of the writable primary."
  value       = "${aws_db_instance.primary.address}:${aws_db_instance.primary.port}"
}

output "replica_endpoints" {
  description = "host:port of the read replica per secondary region (disaster recovery)."
  value       = { for r, db in aws_db_instance.replica : r => "${db.address}:${db.port}" }
}

output "migrate_database_url_secrets" {
  description = "Per region, per service: the Secrets Manager ARN holding its MIGRATE_DATABASE_URL (the database's owner, agentidp_<service>: migrations)."
  value = {
    for r in var.regions : r => {
      for d in var.databases : d => aws_secretsmanager_secret.migrate_database_url["${r}/${d}"].arn
    }
  }
  depends_on = [aws_secretsmanager_secret_version.migrate_database_url]
}

output "database_url_secrets" {
  description = "Per region, per service: the Secrets Manager ARN holding its DATABASE_URL (its confined login, agentidp_<service>_app, created by db-init)."
  value = {
    for r in var.regions : r => {
      for d in var.databases : d => aws_secretsmanager_secret.database_url["${r}/${d}"].arn
    }
  }
  depends_on = [aws_secretsmanager_secret_version.database_url]
}

output "admin_secret" {
  description = "Secrets Manager ARN of the master user's credentials (JSON: username, password), managed by RDS; the db-init task uses it to create the roles and databases."
  value       = aws_db_instance.primary.master_user_secret[0].secret_arn
}
