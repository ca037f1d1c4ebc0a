output "primary_endpoint" {
  description = "host:port (private IP) of the writable primary."
  value       = "${google_sql_database_instance.primary.private_ip_address}:5432"
}

output "replica_endpoints" {
  description = "host:port (private IP) of the read replica per secondary region (disaster recovery)."
  value       = { for r, db in google_sql_database_instance.replica : r => "${db.private_ip_address}:5432" }
}

output "migrate_database_url_secrets" {
  description = "Per region, per service: the Secret Manager secret id holding its MIGRATE_DATABASE_URL (the database's owner, agentidp_<service>: migrations; the same global secret in every region)."
  value = {
    for r in var.regions : r => {
      for d in var.databases : d => google_secret_manager_secret.migrate_database_url[d].id
    }
  }
  depends_on = [google_secret_manager_secret_version.migrate_database_url]
}

output "database_url_secrets" {
  description = "Per region, per service: the Secret Manager secret id holding its DATABASE_URL (its confined login, agentidp_<service>_app, created by the db-init job of compute/gcp; the same global secret in every region)."
  value = {
    for r in var.regions : r => {
      for d in var.databases : d => google_secret_manager_secret.database_url[d].id
    }
  }
  depends_on = [google_secret_manager_secret_version.database_url]
}

output "admin_secret" {
  description = "None on Google Cloud: databases and owners are created through the Cloud SQL API, and the db-init job of compute/gcp creates the logins as the owners. Null, for the shared interface."
  value       = null
}
