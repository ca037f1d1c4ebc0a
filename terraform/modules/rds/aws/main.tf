# Managed PostgreSQL: a writable primary (Multi-AZ) in the first region and a
# cross-region read replica in every other. Every region's services connect
# to the primary (writes, LISTEN/NOTIFY change feeds, advisory locks need
# it); the replicas are the disaster-recovery copies, promoted with
# `aws rds promote-read-replica` when the primary region is lost (RPO: the
# replication lag, typically seconds).
#
# One database and two roles per service (docs/architecture.md, "Database
# roles"): agentidp_<service> owns the database and runs the migrations
# (MIGRATE_DATABASE_URL); agentidp_<service>_app is the service's login
# (DATABASE_URL), not the owner and without CREATEROLE, made a member of the
# service's writer role by the migrations. RDS creates only the master user
# (its password managed in Secrets Manager); the roles and databases are
# created by the one-off db-init task of compute/aws from the secrets below
# (deploy: terraform apply, then run db-init once).
locals {
  primary  = var.regions[0]
  replicas = toset([for r in var.regions : r if r != local.primary])
  family   = "postgres${var.engine_version}"
}

resource "aws_kms_key" "this" {
  for_each                = toset(var.regions)
  region                  = each.key
  description             = "${var.name} PostgreSQL storage and secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_db_subnet_group" "this" {
  for_each   = toset(var.regions)
  region     = each.key
  name       = "${var.name}-postgres"
  subnet_ids = var.subnet_ids[each.key]
  tags       = var.tags
}

resource "aws_security_group" "this" {
  for_each    = toset(var.regions)
  region      = each.key
  name        = "${var.name}-postgres"
  description = "PostgreSQL from the AgentIdP tasks of every region"
  vpc_id      = var.network_ids[each.key]
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = merge([
    for r in var.regions : { for c in var.client_cidrs : "${r}/${c}" => { region = r, cidr = c } }
  ]...)
  region            = each.value.region
  security_group_id = aws_security_group.this[each.value.region].id
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = each.value.cidr
}

resource "aws_db_parameter_group" "this" {
  for_each = toset(var.regions)
  region   = each.key
  name     = "${var.name}-${local.family}"
  family   = local.family
  # TLS only; the services connect with sslmode=require.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  tags = var.tags
}

resource "aws_db_instance" "primary" {
  region                          = local.primary
  identifier                      = "${var.name}-postgres"
  engine                          = "postgres"
  engine_version                  = var.engine_version
  instance_class                  = var.instance_class
  allocated_storage               = var.storage_gb
  max_allocated_storage           = var.storage_gb * 4
  storage_type                    = "gp3"
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.this[local.primary].arn
  username                        = "agentidp_admin"
  manage_master_user_password     = true
  master_user_secret_kms_key_id   = aws_kms_key.this[local.primary].arn
  multi_az                        = var.high_availability
  db_subnet_group_name            = aws_db_subnet_group.this[local.primary].name
  vpc_security_group_ids          = [aws_security_group.this[local.primary].id]
  parameter_group_name            = aws_db_parameter_group.this[local.primary].name
  backup_retention_period         = var.backup_retention_days
  backup_window                   = "03:00-04:00"
  maintenance_window              = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${var.name}-postgres-final"
  copy_tags_to_snapshot           = true
  tags                            = var.tags
}

resource "aws_db_instance" "replica" {
  for_each                     = local.replicas
  region                       = each.key
  identifier                   = "${var.name}-postgres-${each.key}"
  replicate_source_db          = aws_db_instance.primary.arn
  instance_class               = var.instance_class
  storage_encrypted            = true
  kms_key_id                   = aws_kms_key.this[each.key].arn
  db_subnet_group_name         = aws_db_subnet_group.this[each.key].name
  vpc_security_group_ids       = [aws_security_group.this[each.key].id]
  parameter_group_name         = aws_db_parameter_group.this[each.key].name
  backup_retention_period      = 7
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true
  deletion_protection          = var.deletion_protection
  skip_final_snapshot          = true
  tags                         = var.tags
}

# Each service's owner and login passwords, and its MIGRATE_DATABASE_URL
# (owner) and DATABASE_URL (login) in every region (the tasks read the
# secrets of their own region; all point at the primary).
resource "random_password" "role" {
  for_each = toset(var.databases)
  length   = 40
  special  = false
}

resource "random_password" "login" {
  for_each = toset(var.databases)
  length   = 40
  special  = false
}

resource "aws_secretsmanager_secret" "migrate_database_url" {
  for_each = merge([
    for r in var.regions : { for d in var.databases : "${r}/${d}" => { region = r, service = d } }
  ]...)
  region                  = each.value.region
  name                    = "${var.name}/${each.value.service}/migrate-database-url"
  description             = "MIGRATE_DATABASE_URL of the ${each.value.service} service (role agentidp_${each.value.service}, the database's owner, on the primary)"
  kms_key_id              = aws_kms_key.this[each.value.region].arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "migrate_database_url" {
  for_each      = aws_secretsmanager_secret.migrate_database_url
  region        = each.value.region
  secret_id     = each.value.id
  secret_string = "postgres://agentidp_${split("/", each.key)[1]}:${random_password.role[split("/", each.key)[1]].result}@${aws_db_instance.primary.address}:${aws_db_instance.primary.port}/agentidp_${split("/", each.key)[1]}?sslmode=require"
}

resource "aws_secretsmanager_secret" "database_url" {
  for_each = merge([
    for r in var.regions : { for d in var.databases : "${r}/${d}" => { region = r, service = d } }
  ]...)
  region                  = each.value.region
  name                    = "${var.name}/${each.value.service}/database-url"
  description             = "DATABASE_URL of the ${each.value.service} service (login agentidp_${each.value.service}_app on the primary, not the owner)"
  kms_key_id              = aws_kms_key.this[each.value.region].arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  for_each      = aws_secretsmanager_secret.database_url
  region        = each.value.region
  secret_id     = each.value.id
  secret_string = "postgres://agentidp_${split("/", each.key)[1]}_app:${random_password.login[split("/", each.key)[1]].result}@${aws_db_instance.primary.address}:${aws_db_instance.primary.port}/agentidp_${split("/", each.key)[1]}?sslmode=require"
}
