# db-init: creates each service's confined login (docs/architecture.md,
# "Database roles") on the primary. The rds module creates the databases and
# their owners through the Cloud SQL API, but a Cloud SQL API user has
# CREATEROLE, which the services refuse in their login; so the owner creates
# agentidp_<service>_app in SQL (LOGIN only, CONNECT on its database), from
# the MIGRATE_DATABASE_URL (owner) and DATABASE_URL (login) secrets.
# Idempotent. A Cloud Run job, run to completion by every apply
# (run_execution_token) before the service's revision, whose containers
# would otherwise fail their startup probe on a login that does not exist.
locals {
  db_services = [for name, s in var.services : name if contains(s.stores, "postgres")]
  primary     = var.regions[0]
}

resource "google_cloud_run_v2_job" "db_init" {
  project             = var.project_id
  name                = "${var.name}-db-init"
  location            = local.primary
  labels              = var.labels
  deletion_protection = var.deletion_protection
  # A new execution, awaited before the apply goes on (the token changes
  # with the script and the services; the API does not return it, so every
  # plan shows it and every apply runs the idempotent job again).
  run_execution_token = substr(sha256(join(",", concat([file("${path.module}/db-init.sh")], local.db_services))), 0, 16)

  template {
    task_count = 1
    template {
      service_account = google_service_account.run.email
      max_retries     = 3
      timeout         = "300s"
      vpc_access {
        egress = "ALL_TRAFFIC"
        network_interfaces {
          network    = var.network_ids[local.primary]
          subnetwork = var.subnet_ids[local.primary][0]
        }
      }
      containers {
        # Google's mirror of Docker Hub's postgres image: psql.
        image   = "mirror.gcr.io/library/postgres:17-alpine"
        command = ["sh", "-c"]
        args    = [file("${path.module}/db-init.sh")]
        dynamic "env" {
          for_each = merge(
            { for name in local.db_services : "DATABASE_URL_${upper(name)}" => var.database_url_secrets[local.primary][name] },
            { for name in local.db_services : "MIGRATE_DATABASE_URL_${upper(name)}" => var.migrate_database_url_secrets[local.primary][name] },
          )
          content {
            name = env.key
            value_source {
              secret_key_ref {
                secret  = env.value
                version = "latest"
              }
            }
          }
        }
        resources {
          limits = { cpu = "1", memory = "512Mi" }
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.run]
}
