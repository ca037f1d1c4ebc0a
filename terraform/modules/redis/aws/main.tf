# Redis per region, each on its own: the token service's caches, revocations
# and rate limits, and the audit stream (agentidp:audit) that the region's
# audit service drains into the primary database. Multi-AZ with automatic
# failover, TLS in transit, encryption at rest, and RBAC: each service logs
# in as its own user with only the commands and keys it uses (libs/redisacl;
# the default user is off).
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

locals {
  # ElastiCache access strings of libs/redisacl's users (User.AccessString;
  # deploy/checks fails when these differ from the Go source).
  acl_users = {
    token = "on -@all ~tok:* ~agentidp:revoked:* %W~agentidp:audit &agentidp:revocations +get +set +del +exists +mget +pttl +publish +xadd +multi +exec +discard +evalsha +eval +script|load +script|exists +time +hello +auth +ping +echo +select +client|setname +client|getname +client|id +quit"
    authz = "on -@all ~authz:* %R~agentidp:revoked:* %W~agentidp:audit &agentidp:revocations +get +set +mget +exists +subscribe +unsubscribe +xadd +evalsha +eval +script|load +script|exists +time +hello +auth +ping +echo +select +client|setname +client|getname +client|id +quit"
    audit = "on -@all ~agentidp:audit ~agentidp:audit:* +xgroup|create +xgroup|createconsumer +xreadgroup +xack +xautoclaim +xclaim +xpending +xinfo|groups +xinfo|stream +xlen +xdel +xadd +hello +auth +ping +echo +select +client|setname +client|getname +client|id +quit"
  }
  region_users = { for p in setproduct(var.regions, keys(local.acl_users)) : "${p[0]}/${p[1]}" => { region = p[0], user = p[1] } }
}

resource "random_password" "user" {
  for_each = local.region_users
  length   = 48
  special  = false
}

# Every ElastiCache user group needs a user named "default": it is off.
resource "aws_elasticache_user" "default" {
  for_each      = toset(var.regions)
  region        = each.key
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = "redis"
  access_string = "off -@all"
  authentication_mode {
    type      = "password"
    passwords = [random_password.user["${each.key}/token"].result]
  }
  tags = var.tags
}

resource "aws_elasticache_user" "service" {
  for_each      = local.region_users
  region        = each.value.region
  user_id       = "${var.name}-${each.value.user}"
  user_name     = each.value.user
  engine        = "redis"
  access_string = local.acl_users[each.value.user]
  authentication_mode {
    type      = "password"
    passwords = [random_password.user[each.key].result]
  }
  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  for_each      = toset(var.regions)
  region        = each.key
  user_group_id = "${var.name}-redis"
  engine        = "redis"
  user_ids = concat([aws_elasticache_user.default[each.key].user_id],
  [for k, u in aws_elasticache_user.service : u.user_id if local.region_users[k].region == each.key])
  tags = var.tags
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
  user_group_ids             = [aws_elasticache_user_group.this[each.key].user_group_id]
  snapshot_retention_limit   = 3
  snapshot_window            = "02:00-03:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  apply_immediately          = false
  tags                       = var.tags
}

resource "aws_secretsmanager_secret" "redis_url" {
  for_each                = local.region_users
  region                  = each.value.region
  name                    = "${var.name}/redis-url/${each.value.user}"
  description             = "REDIS_URL of the AgentIdP ${each.value.user} service in ${each.value.region} (TLS, its own RBAC user)"
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  for_each      = local.region_users
  region        = each.value.region
  secret_id     = aws_secretsmanager_secret.redis_url[each.key].id
  secret_string = "rediss://${each.value.user}:${random_password.user[each.key].result}@${aws_elasticache_replication_group.this[each.value.region].primary_endpoint_address}:6379/0"
}
