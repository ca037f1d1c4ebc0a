# AgentIdP on AWS: ECS Fargate + RDS for PostgreSQL + ElastiCache + ALB, in
# every region of var.regions. A thin wrapper: everything is in the shared
# modules (terraform/modules); this file only wires their outputs together.
locals {
  tags = merge(var.tags, { Project = "agentidp", Deployment = var.name })
}

# The mesh as data (provider-free, shared with environments/gcp).
module "catalog" {
  source = "../../modules/agentidp/catalog"
}

module "network" {
  source             = "../../modules/agentidp/network/aws"
  name               = var.name
  regions            = var.regions
  vpc_cidrs          = var.vpc_cidrs
  az_count           = var.az_count
  single_nat_gateway = var.single_nat_gateway
  tags               = local.tags
}

module "rds" {
  source                = "../../modules/rds/aws"
  name                  = var.name
  regions               = var.regions
  databases             = module.catalog.database_services
  instance_class        = var.db_instance_class
  storage_gb            = var.db_storage_gb
  high_availability     = var.db_high_availability
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.deletion_protection
  network_ids           = module.network.network_ids
  subnet_ids            = module.network.subnet_ids
  client_cidrs          = flatten(values(module.network.cidr_blocks))
  tags                  = local.tags
}

module "redis" {
  source              = "../../modules/redis/aws"
  name                = var.name
  regions             = var.regions
  engine              = var.redis_engine
  engine_version      = var.redis_engine_version
  node_type           = var.redis_node_type
  replicas_per_region = var.redis_replicas
  network_ids         = module.network.network_ids
  subnet_ids          = module.network.subnet_ids
  client_cidrs        = module.network.cidr_blocks
  tags                = local.tags
}

module "compute" {
  source                       = "../../modules/agentidp/compute/aws"
  name                         = var.name
  regions                      = var.regions
  services                     = module.catalog.services
  envoy                        = module.catalog.envoy
  gateway_config_path          = module.catalog.gateway_config_path
  image_registry               = var.image_registry
  image_tag                    = var.image_tag
  cpu_architecture             = var.cpu_architecture
  public_url                   = "https://${var.domain_name}"
  network_ids                  = module.network.network_ids
  subnet_ids                   = module.network.subnet_ids
  cidr_blocks                  = module.network.cidr_blocks
  database_url_secrets         = module.rds.database_url_secrets
  migrate_database_url_secrets = module.rds.migrate_database_url_secrets
  redis_url_secrets            = module.redis.redis_url_secrets
  admin_secret                 = module.rds.admin_secret
  vault_addr                   = var.vault_addr
  vault_mount                  = var.vault_mount
  vault_token_secrets          = var.vault_token_secrets
  audit_checkpoint             = var.audit_checkpoint
  log_retention_days           = var.log_retention_days
  tags                         = local.tags
}

module "lb" {
  source              = "../../modules/lb/aws"
  name                = var.name
  regions             = var.regions
  domain_name         = var.domain_name
  backends            = module.compute.backends
  network_ids         = module.network.network_ids
  public_subnet_ids   = module.network.public_subnet_ids
  route53_zone_id     = var.route53_zone_id
  certificate_arns    = var.certificate_arns
  deletion_protection = var.deletion_protection
  tags                = local.tags
}
