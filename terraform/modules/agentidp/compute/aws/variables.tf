variable "name" {
  type        = string
  description = "Name prefix of every resource (e.g. agentidp-prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters (load balancer and target group names are short), starting with a letter."
  }
}

variable "regions" {
  type        = list(string)
  description = "AWS regions, primary first. The whole mesh runs in each; db-init runs in the primary."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "services" {
  type = map(object({
    image      = string
    port       = number
    admin_port = number
    protocol   = string
    routed     = bool
    calls      = list(string)
    stores     = list(string)
    env        = map(string)
    inputs     = map(string)
    cpu        = number
    memory     = number
    min        = number
    max        = number
  }))
  description = "The mesh (agentidp/catalog output services)."
  validation {
    condition     = contains(keys(var.services), "gateway")
    error_message = "services: the catalog must contain the gateway control plane."
  }
}

variable "envoy" {
  type = object({
    image      = string
    port       = number
    stats_port = number
    cpu        = number
    memory     = number
  })
  description = "Envoy beside the control plane (agentidp/catalog output envoy)."
}

variable "gateway_config_path" {
  type        = string
  description = "GATEWAY_CONFIG of the control plane (agentidp/catalog output gateway_config_path)."
}

variable "image_registry" {
  type        = string
  description = "Registry prefix of the images, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/agentidp (images are <prefix>/<image>:<tag>)."
  validation {
    condition     = length(var.image_registry) > 0 && !endswith(var.image_registry, "/")
    error_message = "image_registry: a registry path without a trailing slash."
  }
}

variable "image_tag" {
  type        = string
  description = "Tag of every AgentIdP image (one release)."
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag: a valid tag other than latest (deployments must be reproducible)."
  }
}

variable "public_url" {
  type        = string
  description = "Public base URL of the gateway (https://<domain>): the tokens' issuer."
  validation {
    condition     = can(regex("^https://[^/]+$", var.public_url))
    error_message = "public_url: https://host, without a path or trailing slash."
  }
}

variable "network_ids" {
  type        = map(string)
  description = "VPC id per region (network output network_ids)."
}

variable "subnet_ids" {
  type        = map(list(string))
  description = "Private subnet ids per region for the tasks (network output subnet_ids)."
}

variable "cidr_blocks" {
  type        = map(list(string))
  description = "VPC address ranges per region (network output cidr_blocks): the load balancer reaches Envoy from these."
}

variable "database_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secrets Manager ARN of its DATABASE_URL (rds output database_url_secrets)."
}

variable "migrate_database_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secrets Manager ARN of its MIGRATE_DATABASE_URL, the database's owner that runs the migrations (rds output migrate_database_url_secrets); DATABASE_URL is then its confined login."
}

variable "redis_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secrets Manager ARN of its REDIS_URL, as its own ACL user where the store has them (redis output redis_url_secrets)."
}

variable "admin_secret" {
  type        = string
  description = "Secrets Manager ARN of the database master credentials (rds output admin_secret), for the db-init task."
}

variable "vault_addr" {
  type        = string
  description = "Address of your Vault (VAULT_ADDR), reachable from the tasks through NAT, e.g. https://vault.example.com:8200."
  validation {
    condition     = can(regex("^https?://", var.vault_addr))
    error_message = "vault_addr: an http(s) URL."
  }
}

variable "vault_mount" {
  type        = string
  description = "KV v2 mount (VAULT_MOUNT)."
  default     = "secret"
}

variable "vault_token_secrets" {
  type        = map(string)
  description = "Per service that uses Vault, and \"bootstrap\" (the first-admin task, docs/deploy.md): ARN of an existing Secrets Manager secret holding its Vault token (least-privilege policies: docs/credentials.md, deploy/README.md, docs/deploy.md). Referenced, never created here."
  validation {
    condition     = alltrue([for a in values(var.vault_token_secrets) : startswith(a, "arn:")])
    error_message = "vault_token_secrets: Secrets Manager ARNs."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "Fargate CPU architecture: ARM64 (Graviton, about 20% cheaper) or X86_64. Build the images for it (docker buildx --platform linux/arm64)."
  default     = "ARM64"
  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture: ARM64 or X86_64."
  }
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch Logs retention."
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "log_retention_days: a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "mesh_cert_validity_days" {
  type        = number
  description = "Lifetime of each mesh certificate, in days (agentidp/mesh-ca)."
  default     = 90
}

variable "mesh_cert_renew_days_before" {
  type        = number
  description = "An apply this many days (or fewer) before a mesh certificate ends re-issues it and rolls the services onto it: apply at least this often (agentidp/mesh-ca)."
  default     = 30
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
