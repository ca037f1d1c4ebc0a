variable "name" {
  type        = string
  description = "Name prefix of every resource (e.g. agentidp-prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters (load balancer and target group names are short), starting with a letter."
  }
}

variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "regions" {
  type        = list(string)
  description = "Google Cloud regions, primary first. The whole mesh runs in each, as one Cloud Run service."
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
  description = "Registry prefix of the images, e.g. europe-docker.pkg.dev/my-project/agentidp (images are <prefix>/<image>:<tag>)."
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
  description = "VPC per region (network output network_ids), for direct VPC egress."
}

variable "subnet_ids" {
  type        = map(list(string))
  description = "Subnet per region for direct VPC egress (network output subnet_ids; the first is used)."
}

variable "database_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secret Manager secret id of its DATABASE_URL (rds output database_url_secrets)."
}

variable "migrate_database_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secret Manager secret id of its MIGRATE_DATABASE_URL, the database's owner that runs the migrations (rds output migrate_database_url_secrets); DATABASE_URL is then its confined login."
}

variable "redis_url_secrets" {
  type        = map(map(string))
  description = "Per region, per service: Secret Manager secret id of its REDIS_URL, as its own ACL user where the store has them (redis output redis_url_secrets)."
}

variable "vault_addr" {
  type        = string
  description = "Address of your Vault (VAULT_ADDR), reachable from Cloud Run through Cloud NAT, e.g. https://vault.example.com:8200."
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
  description = "Per service that uses Vault, and \"bootstrap\" (the first-admin sidecar, docs/deploy.md): id of an existing Secret Manager secret (projects/<p>/secrets/<s>) holding its Vault token (least-privilege policies: docs/credentials.md, deploy/README.md, docs/deploy.md). Referenced, never created here."
  validation {
    condition     = alltrue([for s in values(var.vault_token_secrets) : can(regex("^projects/[^/]+/secrets/[^/]+$", s))])
    error_message = "vault_token_secrets: secret ids of the form projects/<project>/secrets/<name>."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept running per region (null: the largest min of the catalog). At least 1: the audit service and the change-feed followers run in the background."
  default     = null
  validation {
    condition     = var.min_instances == null ? true : var.min_instances >= 1
    error_message = "min_instances: at least 1 (background work needs a running instance)."
  }
}

variable "max_instances" {
  type        = number
  description = "Instance ceiling per region (null: the largest max of the catalog)."
  default     = null
  validation {
    condition     = var.max_instances == null ? true : var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances: between 1 and 1000."
  }
}

variable "concurrency" {
  type        = number
  description = "Requests one instance takes at once before Cloud Run adds another."
  default     = 200
  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000
    error_message = "concurrency: between 1 and 1000."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the Cloud Run services."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the resources that take them."
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
  description = "Signed audit checkpoints (docs/audit.md, \"Signed checkpoints\"): the Vault transit key that signs them (AUDIT_CHECKPOINT_TRANSIT_KEY, created as ed25519 on first start), its mount, and the id of an existing Secret Manager secret holding the audit service's own Vault token for it (update on transit/sign/<key>, read on transit/keys/<key>, create on transit/keys/<key> until it exists). At vault_addr. Null: checkpoints off (the service warns)."
  default     = null
}
