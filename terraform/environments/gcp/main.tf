# AgentIdP on Google Cloud: Cloud Run + Cloud SQL for PostgreSQL +
# Memorystore for Redis + a global HTTPS load balancer, in every region of
# var.regions. A thin wrapper: everything is in the shared modules
# (terraform/modules); this file only wires their outputs together.
locals {
  labels = merge(var.labels, { project = "agentidp", deployment = var.name })
}

# The mesh as data (provider-free, shared with environments/aws).
module "catalog" {
  source = "../../modules/agentidp/catalog"
}

module "network" {
  source       = "../../modules/agentidp/network/gcp"
  name         = var.name
  project_id   = var.project_id
  regions      = var.regions
  subnet_cidrs = var.subnet_cidrs
  labels       = local.labels
}

module "rds" {
  source                = "../../modules/rds/gcp"
  name                  = var.name
  project_id            = var.project_id
  regions               = var.regions
  databases             = module.catalog.database_services
  tier                  = var.db_tier
  storage_gb            = var.db_storage_gb
  high_availability     = var.db_high_availability
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.deletion_protection
  network_ids           = module.network.network_ids
  labels                = local.labels
}

module "redis" {
  source            = "../../modules/redis/gcp"
  name              = var.name
  project_id        = var.project_id
  regions           = var.regions
  memory_size_gb    = var.redis_memory_gb
  high_availability = var.redis_high_availability
  network_ids       = module.network.network_ids
  labels            = local.labels
}

module "compute" {
  source                       = "../../modules/agentidp/compute/gcp"
  name                         = var.name
  project_id                   = var.project_id
  regions                      = var.regions
  services                     = module.catalog.services
  envoy                        = module.catalog.envoy
  gateway_config_path          = module.catalog.gateway_config_path
  image_registry               = var.image_registry
  image_tag                    = var.image_tag
  public_url                   = "https://${var.domain_name}"
  network_ids                  = module.network.network_ids
  subnet_ids                   = module.network.subnet_ids
  database_url_secrets         = module.rds.database_url_secrets
  migrate_database_url_secrets = module.rds.migrate_database_url_secrets
  redis_url_secrets            = module.redis.redis_url_secrets
  vault_addr                   = var.vault_addr
  vault_mount                  = var.vault_mount
  vault_token_secrets          = var.vault_token_secrets
  audit_checkpoint             = var.audit_checkpoint
  min_instances                = var.min_instances
  max_instances                = var.max_instances
  deletion_protection          = var.deletion_protection
  labels                       = local.labels
}

module "lb" {
  source      = "../../modules/lb/gcp"
  name        = var.name
  project_id  = var.project_id
  regions     = var.regions
  domain_name = var.domain_name
  backends    = module.compute.backends
  labels      = local.labels
}
