variable "name" {
  type        = string
  description = "Name prefix of every resource; one deployment per name and account."
  default     = "agentidp"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters."
  }
}

variable "regions" {
  type        = list(string)
  description = "AWS regions, primary first: the primary holds the writable database; every region runs the whole mesh, its own Redis and load balancer, and a read replica."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 5 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: one to five, no duplicates."
  }
  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", r))])
    error_message = "regions: AWS region names such as eu-west-1."
  }
}

variable "vpc_cidrs" {
  type        = map(string)
  description = "VPC CIDR per region, non-overlapping (the VPCs are peered), e.g. {\"eu-west-1\" = \"10.10.0.0/16\", \"us-east-1\" = \"10.11.0.0/16\"}."
  validation {
    condition     = alltrue([for r in var.regions : contains(keys(var.vpc_cidrs), r)])
    error_message = "vpc_cidrs: one entry per region of var.regions."
  }
}

variable "az_count" {
  type        = number
  description = "Availability zones used per region."
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count: between 2 and 4."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway per region instead of one per zone (cheaper; a zone outage cuts egress)."
  default     = false
}

variable "domain_name" {
  type        = string
  description = "Public host name of the API, e.g. idp.example.com: the tokens' issuer is https://<domain_name>."
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 zone of domain_name: certificates and latency-based records are created in it. Null: set certificate_arns and create the DNS records yourself."
  default     = null
}

variable "certificate_arns" {
  type        = map(string)
  description = "Per region, an existing ACM certificate for domain_name (when route53_zone_id is null)."
  default     = {}
}

variable "image_registry" {
  type        = string
  description = "Where the images are pushed, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/agentidp (ECR replicates to the other regions)."
}

variable "image_tag" {
  type        = string
  description = "The release to run: tag of every AgentIdP image."
}

variable "cpu_architecture" {
  type        = string
  description = "Fargate architecture of the images: ARM64 or X86_64."
  default     = "ARM64"
  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture: ARM64 or X86_64."
  }
}

variable "vault_addr" {
  type        = string
  description = "Your Vault (VAULT_ADDR), reachable from the tasks' NAT addresses (output egress_ips)."
  validation {
    condition     = can(regex("^https://", var.vault_addr))
    error_message = "vault_addr: an https URL (secrets and signing keys travel to it)."
  }
}

variable "vault_mount" {
  type        = string
  description = "KV v2 mount of the client secrets and signing keys."
  default     = "secret"
}

variable "vault_token_secrets" {
  type        = map(string)
  description = "Per service that uses Vault (credentials, token) and the first-admin bootstrap (bootstrap, docs/deploy.md): ARN of an existing Secrets Manager secret holding its Vault token."
  validation {
    condition     = alltrue([for s in ["credentials", "token", "bootstrap"] : contains(keys(var.vault_token_secrets), s)])
    error_message = "vault_token_secrets: entries for credentials, token and bootstrap (the first platform admin, docs/deploy.md)."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the primary and the replicas."
  default     = "db.t4g.medium"
}

variable "db_storage_gb" {
  type        = number
  description = "Initial database storage (GiB); autoscales up to four times."
  default     = 50
}

variable "db_high_availability" {
  type        = bool
  description = "Multi-AZ standby for the primary database."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Point-in-time recovery window of the primary database."
  default     = 14
}

variable "redis_engine" {
  type        = string
  description = "ElastiCache engine: redis or valkey."
  default     = "redis"
}

variable "redis_engine_version" {
  type        = string
  description = "ElastiCache engine version."
  default     = "7.1"
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type per region."
  default     = "cache.t4g.small"
}

variable "redis_replicas" {
  type        = number
  description = "Redis replicas per region (1+: Multi-AZ automatic failover)."
  default     = 1
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the databases and load balancers from deletion."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch Logs retention of the services."
  default     = 30
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource (besides Project and Deployment)."
  default     = {}
}

variable "audit_checkpoint" {
  type = object({
    transit_key        = string
    transit_mount      = optional(string, "transit")
    vault_token_secret = string
  })
  description = "Signed audit checkpoints (docs/audit.md, \"Signed checkpoints\"): the Vault transit key that signs them (AUDIT_CHECKPOINT_TRANSIT_KEY, created as ed25519 on first start), its mount, and the ARN of an existing Secrets Manager secret holding the audit service's own Vault token for it (update on transit/sign/<key>, read on transit/keys/<key>, create on transit/keys/<key> until it exists). At vault_addr. Null: checkpoints off (the service warns)."
  default     = null
}
