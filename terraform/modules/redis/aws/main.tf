# Redis per region, each on its own: the token service's caches, revocations
# and rate limits, and the audit stream (agentidp:audit) that the region's
# audit service drains into the primary database. Multi-AZ with automatic
# failover, TLS in transit, AUTH, encryption at rest.
#
# Durability: ElastiCache has no AOF for Redis 7+; a node failure fails over
# to a replica, which may lack the last writes (asynchronous replication).
# The audit stream then loses at most those entries; docs/audit.md explains
# the emitter's window. Eviction is off (noeviction): the stream and the
# revocations must never be evicted to make room.
resource "aws_elasticache_subnet_group" "this" {
  for_each   = toset(var.regions)
  region     = each.key
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids[each.key]
  tags       = var.tags
}

resource "aws_security_group" "this" {
  for_each    = toset(var.regions)
  region      = each.key
  name        = "${var.name}-redis"
  description = "Redis from the AgentIdP tasks of this region"
  vpc_id      = var.network_ids[each.key]
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = merge([
    for r in var.regions : { for c in var.client_cidrs[r] : "${r}/${c}" => { region = r, cidr = c } }
  ]...)
  region            = each.value.region
  security_group_id = aws_security_group.this[each.value.region].id
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = each.value.cidr
}

resource "aws_elasticache_parameter_group" "this" {
  for_each = toset(var.regions)
  region   = each.key
  name     = "${var.name}-${var.engine}${replace(var.engine_version, ".", "-")}"
  family   = "${var.engine}${split(".", var.engine_version)[0]}"
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
  tags = var.tags
}

resource "random_password" "auth" {
  for_each = toset(var.regions)
  length   = 48
  special  = false
}

resource "aws_elasticache_replication_group" "this" {
  for_each                   = toset(var.regions)
  region                     = each.key
  replication_group_id       = "${var.name}-redis"
  description                = "AgentIdP token caches, revocations and audit stream (${each.key})"
  engine                     = var.engine
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = 1 + var.replicas_per_region
  automatic_failover_enabled = var.replicas_per_region > 0
  multi_az_enabled           = var.replicas_per_region > 0
  parameter_group_name       = aws_elasticache_parameter_group.this[each.key].name
  subnet_group_name          = aws_elasticache_subnet_group.this[each.key].name
  security_group_ids         = [aws_security_group.this[each.key].id]
  port                       = 6379
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = random_password.auth[each.key].result
  snapshot_retention_limit   = 3
  snapshot_window            = "02:00-03:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  apply_immediately          = false
  tags                       = var.tags
}

resource "aws_secretsmanager_secret" "redis_url" {
  for_each                = toset(var.regions)
  region                  = each.key
  name                    = "${var.name}/redis-url"
  description             = "REDIS_URL of the AgentIdP services in ${each.key} (TLS, AUTH)"
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  for_each      = toset(var.regions)
  region        = each.key
  secret_id     = aws_secretsmanager_secret.redis_url[each.key].id
  secret_string = "rediss://:${random_password.auth[each.key].result}@${aws_elasticache_replication_group.this[each.key].primary_endpoint_address}:6379/0"
}
