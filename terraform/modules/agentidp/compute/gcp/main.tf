# The mesh on Cloud Run, in every region: ONE Cloud Run service whose
# instances each run the whole mesh as containers sharing localhost — Envoy
# (the ingress container), the control plane, and every service — because
# Cloud Run serves other services only over HTTPS on *.run.app, while the
# mesh speaks gRPC over its own mutual TLS between processes (Envoy's
# clusters and libs/grpcclient; mesh.tf). The same sidecar layout as the gateway pod in Kubernetes,
# extended to the whole mesh: every call stays on 127.0.0.1.
#
# The trade-off: services scale together (an instance is a full copy; the
# token hot path decides the count) rather than one by one as on ECS or
# Kubernetes. See terraform/environments/gcp/README.md.
locals {
  inputs = {
    public_url = var.public_url
  }
  vault_env = {
    VAULT_ADDR  = var.vault_addr
    VAULT_MOUNT = var.vault_mount
  }

  # The catalog's literals, the mesh certificate files (mesh.tf), the calls
  # (on 127.0.0.1: the clients check the server's SPIFFE ID, not its
  # address), Vault, deployment inputs, and (gateway) its config file.
  env = {
    for name, s in var.services : name => merge(
      s.env,
      local.mesh_env,
      { for d in s.calls : "${upper(d)}_ADDR" => "127.0.0.1:${var.services[d].port}" },
      { for k, v in local.vault_env : k => v if contains(s.stores, "vault") },
      # The audit service's checkpoint signer, when configured (its own
      # Vault token: local.secrets).
      { for k, v in {
        AUDIT_CHECKPOINT_TRANSIT_KEY   = try(var.audit_checkpoint.transit_key, "")
        AUDIT_CHECKPOINT_TRANSIT_MOUNT = try(var.audit_checkpoint.transit_mount, "")
        AUDIT_CHECKPOINT_VAULT_ADDR    = var.vault_addr
      } : k => v if name == "audit" && var.audit_checkpoint != null },
      { for k, input in s.inputs : k => local.inputs[input] },
      { for k, v in { GATEWAY_CONFIG = var.gateway_config_path } : k => v if name == "gateway" },
      # authz fetches the token service's keys directly (not through Envoy),
      # over the mesh's mutual TLS (https: authz refuses http with TLS on).
      { for k, v in { JWKS_URL = "https://127.0.0.1:${var.services.token.port}/.well-known/jwks.json" } : k => v if contains(s.calls, "token") && name == "authz" },
    )
  }

  secrets = {
    for r in var.regions : r => {
      for name, s in var.services : name => merge(
        # The confined login and, for the migrations, the owner
        # (docs/architecture.md, "Database roles").
        { for k, v in { DATABASE_URL = lookup(var.database_url_secrets[r], name, ""), MIGRATE_DATABASE_URL = lookup(var.migrate_database_url_secrets[r], name, "") } : k => v if contains(s.stores, "postgres") },
        { for k, v in { REDIS_URL = lookup(var.redis_url_secrets[r], name, "") } : k => v if contains(s.stores, "redis") },
        { for k, v in { VAULT_TOKEN = lookup(var.vault_token_secrets, name, "") } : k => v if contains(s.stores, "vault") },
        { for k, v in { AUDIT_CHECKPOINT_VAULT_TOKEN = try(var.audit_checkpoint.vault_token_secret, "") } : k => v if name == "audit" && var.audit_checkpoint != null },
      )
    }
  }
  all_secrets = toset(distinct(flatten([for r in var.regions : [for name, m in local.secrets[r] : values(m)]])))

  gateway_config = yamlencode({
    listener = { address = "0.0.0.0", port = var.envoy.port }
    services = {
      for name, s in var.services : name => { endpoints = ["127.0.0.1:${s.port}"] } if s.routed
    }
  })

  image = { for name, s in merge(var.services, { envoy = var.envoy }) : name => "${var.image_registry}/${s.image}:${var.image_tag}" }

  # Container names: the control plane is "control-plane", as in the
  # gateway pod and task.
  container = { for name, s in var.services : name => name == "gateway" ? "control-plane" : name }

  # Fargate units (1024 = 1 vCPU) in the catalog become Cloud Run limits.
  cpu = { for name, s in merge(var.services, { envoy = var.envoy }) : name => "${floor(s.cpu * 1000 / 1024)}m" }

  min_instances = coalesce(var.min_instances, max([for s in values(var.services) : s.min]...))
  max_instances = coalesce(var.max_instances, max([for s in values(var.services) : s.max]...))
}

resource "google_service_account" "run" {
  project      = var.project_id
  account_id   = "${var.name}-run"
  display_name = "AgentIdP on Cloud Run"
}

resource "google_secret_manager_secret" "gateway_config" {
  project   = var.project_id
  secret_id = "${var.name}-gateway-config"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "gateway_config" {
  secret      = google_secret_manager_secret.gateway_config.id
  secret_data = local.gateway_config
}

# The mesh certificates (mesh.tf), keyed by names known at plan time.
resource "google_secret_manager_secret_iam_member" "mesh" {
  for_each = merge(
    { ca = google_secret_manager_secret.mesh_ca.secret_id },
    { for id in local.mesh_identities : "${id}/cert" => google_secret_manager_secret.mesh_cert[id].secret_id },
    { for id in local.mesh_identities : "${id}/key" => google_secret_manager_secret.mesh_key[id].secret_id },
  )
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.run.email}"
}

# Read access to exactly the secrets the instances use.
resource "google_secret_manager_secret_iam_member" "run" {
  for_each  = setunion(local.all_secrets, [google_secret_manager_secret.gateway_config.id], values(local.bootstrap_secrets))
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.run.email}"
}

resource "google_cloud_run_v2_service" "this" {
  for_each            = toset(var.regions)
  project             = var.project_id
  name                = "${var.name}-${each.key}"
  location            = each.key
  labels              = var.labels
  deletion_protection = var.deletion_protection
  # Only the HTTPS load balancer reaches it (lb/gcp), never *.run.app.
  ingress = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"

  template {
    service_account                  = google_service_account.run.email
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    max_instance_request_concurrency = var.concurrency
    timeout                          = "30s"
    labels                           = var.labels

    scaling {
      min_instance_count = local.min_instances
      max_instance_count = local.max_instances
    }

    # Cloud SQL and Memorystore private IPs; Vault through Cloud NAT's
    # static addresses.
    vpc_access {
      egress = "ALL_TRAFFIC"
      network_interfaces {
        network    = var.network_ids[each.key]
        subnetwork = var.subnet_ids[each.key][0]
      }
    }

    volumes {
      name = "gateway-config"
      secret {
        secret = google_secret_manager_secret.gateway_config.secret_id
        items {
          version = "latest"
          path    = basename(var.gateway_config_path)
        }
      }
    }

    # The mesh certificates, one volume per secret (mesh.tf).
    dynamic "volumes" {
      for_each = local.mesh_volumes
      content {
        name = volumes.key
        secret {
          secret = volumes.value.secret
          items {
            version = volumes.value.version
            path    = volumes.value.path
          }
        }
      }
    }

    # Envoy: the ingress container (the only one with a port).
    containers {
      name       = "envoy"
      image      = local.image["envoy"]
      depends_on = ["control-plane"]
      ports {
        name           = "http1"
        container_port = var.envoy.port
      }
      # The gateway's certificate: the control plane names its files over SDS.
      dynamic "volume_mounts" {
        for_each = local.mesh_mounts["gateway"]
        content {
          name       = volume_mounts.key
          mount_path = volume_mounts.value
        }
      }
      resources {
        # A whole vCPU on the ingress container: Cloud Run limits instances
        # whose ingress has less to one request at a time.
        limits            = { cpu = "1", memory = "${var.envoy.memory}Mi" }
        cpu_idle          = false
        startup_cpu_boost = true
      }
      # The listener opens once the control plane pushed its configuration.
      startup_probe {
        tcp_socket {
          port = var.envoy.port
        }
        period_seconds    = 2
        failure_threshold = 60
      }
      liveness_probe {
        http_get {
          path = "/healthz"
          port = var.envoy.port
        }
        period_seconds = 10
      }
    }

    dynamic "containers" {
      for_each = var.services
      content {
        name  = local.container[containers.key]
        image = local.image[containers.key]

        dynamic "env" {
          for_each = local.env[containers.key]
          content {
            name  = env.key
            value = env.value
          }
        }
        dynamic "env" {
          for_each = local.secrets[each.key][containers.key]
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
          limits   = { cpu = local.cpu[containers.key], memory = "${containers.value.memory}Mi" }
          cpu_idle = false
        }

        # Its own mesh certificate only.
        dynamic "volume_mounts" {
          for_each = local.mesh_mounts[containers.key]
          content {
            name       = volume_mounts.key
            mount_path = volume_mounts.value
          }
        }
        dynamic "volume_mounts" {
          for_each = containers.key == "gateway" ? ["gateway-config"] : []
          content {
            name       = volume_mounts.value
            mount_path = dirname(var.gateway_config_path)
          }
        }

        # Migrations run before the ports open.
        startup_probe {
          http_get {
            path = "/healthz"
            port = containers.value.admin_port
          }
          period_seconds    = 2
          failure_threshold = 60
        }
        liveness_probe {
          http_get {
            path = "/healthz"
            port = containers.value.admin_port
          }
          period_seconds = 10
        }
      }
    }

    # The first platform admin (bootstrap.tf): no port, no probe.
    containers {
      name       = "bootstrap"
      image      = "${var.image_registry}/cli:${var.image_tag}"
      args       = ["bootstrap", "--output", "vault=agentidp/bootstrap/platform-admin", "--keep-running"]
      depends_on = [for d in local.bootstrap_calls : local.container[d]]
      dynamic "volume_mounts" {
        for_each = local.mesh_mounts["bootstrap"]
        content {
          name       = volume_mounts.key
          mount_path = volume_mounts.value
        }
      }
      dynamic "env" {
        for_each = local.bootstrap_env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.bootstrap_secrets
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
        limits   = { cpu = "100m", memory = "128Mi" }
        cpu_idle = false
      }
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for name in keys(var.services) : contains(local.mesh_identities, name)])
      error_message = "A service has no mesh identity: add it to local.mesh_identities (mesh.tf) and libs/mtls."
    }
    precondition {
      condition     = alltrue([for name, m in local.secrets[each.key] : alltrue([for k, v in m : v != ""])]) && local.bootstrap_secrets.VAULT_TOKEN != ""
      error_message = "A secret is missing for ${each.key} (database_url_secrets, migrate_database_url_secrets, redis_url_secrets, or vault_token_secrets, which needs an entry for each service that uses Vault and for \"bootstrap\")."
    }
  }
  # db-init: the services' database logins exist before they start.
  depends_on = [google_secret_manager_secret_iam_member.run, google_secret_manager_secret_iam_member.mesh, google_cloud_run_v2_job.db_init]
}

# The load balancer calls without credentials; ingress allows nothing else.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = google_cloud_run_v2_service.this
  project  = var.project_id
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
