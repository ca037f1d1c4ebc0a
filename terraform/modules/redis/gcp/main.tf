# Redis per region, each on its own: the token service's caches, revocations
# and rate limits, and the audit stream that the region's audit service
# drains into the primary database. STANDARD_HA, AUTH, RDB snapshots every
# hour (Memorystore for Redis has no AOF), eviction off (noeviction): the
# stream and the revocations must never be evicted. In-transit encryption is
# off because it needs the instance's own CA in every client; traffic stays
# on the private services network. Memorystore for Redis has one AUTH string
# and no ACL users: every service's REDIS_URL holds it (docs/security.md says
# what that leaves open; the secrets stay per service so that moving to a
# store with users changes no consumer).
resource "google_redis_instance" "this" {
  for_each                = toset(var.regions)
  project                 = var.project_id
  name                    = "${var.name}-redis-${each.key}"
  region                  = each.key
  tier                    = var.high_availability ? "STANDARD_HA" : "BASIC"
  memory_size_gb          = var.memory_size_gb
  redis_version           = var.redis_version
  authorized_network      = var.network_ids[each.key]
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = "DISABLED"
  redis_configs = {
    maxmemory-policy = "noeviction"
  }
  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "ONE_HOUR"
  }
  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours = 5
      }
    }
  }
  labels = var.labels
}

locals {
  # The services that use Redis (libs/redisacl.Names).
  redis_services  = ["token", "authz", "audit"]
  region_services = { for p in setproduct(var.regions, local.redis_services) : "${p[0]}/${p[1]}" => { region = p[0], service = p[1] } }
}

resource "google_secret_manager_secret" "redis_url" {
  for_each  = local.region_services
  project   = var.project_id
  secret_id = "${var.name}-redis-url-${each.value.region}-${each.value.service}"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "redis_url" {
  for_each    = local.region_services
  secret      = google_secret_manager_secret.redis_url[each.key].id
  secret_data = "redis://:${google_redis_instance.this[each.value.region].auth_string}@${google_redis_instance.this[each.value.region].host}:${google_redis_instance.this[each.value.region].port}/0"
}
