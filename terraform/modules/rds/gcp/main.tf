# Managed PostgreSQL: a writable primary (regional HA) in the first region
# and a cross-region read replica in every other, all on private IPs of the
# global VPC. Every region's services connect to the primary (writes,
# LISTEN/NOTIFY change feeds and advisory locks need it); the replicas are
# the disaster-recovery copies (`gcloud sql instances promote-replica`).
#
# Databases and owners are created through the Cloud SQL API. Users created
# this way belong to cloudsqlsuperuser and have CREATEROLE (each service's
# migrations create its writer role) but are not superusers (the audit log's
# triggers bind them). That is right for the owner (MIGRATE_DATABASE_URL),
# wrong for the service's login (DATABASE_URL), which must have no
# CREATEROLE (docs/architecture.md, "Database roles"): the login
# agentidp_<service>_app is created in SQL by the owner, from the db-init
# job of compute/gcp, with the password generated here.
locals {
  primary  = var.regions[0]
  replicas = toset([for r in var.regions : r if r != local.primary])
}

resource "random_id" "suffix" {
  # Cloud SQL instance names cannot be reused for a week after deletion.
  byte_length = 3
}

resource "google_sql_database_instance" "primary" {
  project             = var.project_id
  name                = "${var.name}-pg-${random_id.suffix.hex}"
  region              = local.primary
  database_version    = "POSTGRES_${var.engine_version}"
  deletion_protection = var.deletion_protection
  settings {
    tier              = var.tier
    edition           = "ENTERPRISE"
    availability_type = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type         = "PD_SSD"
    disk_size         = var.storage_gb
    disk_autoresize   = true
    user_labels       = var.labels
    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_ids[local.primary]
      ssl_mode        = "ENCRYPTED_ONLY"
    }
    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "03:00"
      backup_retention_settings {
        retained_backups = var.backup_retention_days
      }
    }
    maintenance_window {
      day  = 7
      hour = 4
    }
    insights_config {
      query_insights_enabled = true
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "500"
    }
  }
}

resource "google_sql_database_instance" "replica" {
  for_each             = local.replicas
  project              = var.project_id
  name                 = "${var.name}-pg-${random_id.suffix.hex}-${each.key}"
  region               = each.key
  database_version     = "POSTGRES_${var.engine_version}"
  master_instance_name = google_sql_database_instance.primary.name
  deletion_protection  = var.deletion_protection
  replica_configuration {
    failover_target = false
  }
  settings {
    tier              = var.tier
    edition           = "ENTERPRISE"
    availability_type = "ZONAL"
    disk_type         = "PD_SSD"
    disk_autoresize   = true
    user_labels       = var.labels
    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_ids[each.key]
      ssl_mode        = "ENCRYPTED_ONLY"
    }
  }
}

resource "google_sql_database" "this" {
  for_each = toset(var.databases)
  project  = var.project_id
  instance = google_sql_database_instance.primary.name
  name     = "agentidp_${each.key}"
}

resource "random_password" "user" {
  for_each = toset(var.databases)
  length   = 40
  special  = false
}

resource "google_sql_user" "this" {
  for_each = toset(var.databases)
  project  = var.project_id
  instance = google_sql_database_instance.primary.name
  name     = "agentidp_${each.key}"
  password = random_password.user[each.key].result
}

resource "random_password" "login" {
  for_each = toset(var.databases)
  length   = 40
  special  = false
}

# MIGRATE_DATABASE_URL (owner) and DATABASE_URL (login) per service (Secret
# Manager secrets are global: one serves every region).
resource "google_secret_manager_secret" "migrate_database_url" {
  for_each  = toset(var.databases)
  project   = var.project_id
  secret_id = "${var.name}-${each.key}-migrate-database-url"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "migrate_database_url" {
  for_each    = toset(var.databases)
  secret      = google_secret_manager_secret.migrate_database_url[each.key].id
  secret_data = "postgres://agentidp_${each.key}:${random_password.user[each.key].result}@${google_sql_database_instance.primary.private_ip_address}:5432/agentidp_${each.key}?sslmode=require"
  depends_on  = [google_sql_user.this, google_sql_database.this]
}

resource "google_secret_manager_secret" "database_url" {
  for_each  = toset(var.databases)
  project   = var.project_id
  secret_id = "${var.name}-${each.key}-database-url"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "database_url" {
  for_each    = toset(var.databases)
  secret      = google_secret_manager_secret.database_url[each.key].id
  secret_data = "postgres://agentidp_${each.key}_app:${random_password.login[each.key].result}@${google_sql_database_instance.primary.private_ip_address}:5432/agentidp_${each.key}?sslmode=require"
  depends_on  = [google_sql_user.this, google_sql_database.this]
}
