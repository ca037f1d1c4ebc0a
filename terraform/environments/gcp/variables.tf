variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id: a Google Cloud project id."
  }
}

variable "name" {
  type        = string
  description = "Name prefix of every resource; one deployment per name and project."
  default     = "agentidp"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters."
  }
}

variable "regions" {
  type        = list(string)
  description = "Google Cloud regions, primary first: the primary holds the writable database; every region runs the whole mesh on Cloud Run, its own Memorystore and a read replica, behind one global load balancer."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 5 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: one to five, no duplicates."
  }
  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]+-[a-z]+[0-9]+$", r))])
    error_message = "regions: Google Cloud region names such as europe-west1."
  }
}

variable "subnet_cidrs" {
  type        = map(string)
  description = "Subnet CIDR per region for Cloud Run's direct VPC egress, e.g. {\"europe-west1\" = \"10.20.0.0/20\"}."
  validation {
    condition     = alltrue([for r in var.regions : contains(keys(var.subnet_cidrs), r)])
    error_message = "subnet_cidrs: one entry per region of var.regions."
  }
}

variable "domain_name" {
  type        = string
  description = "Public host name of the API, e.g. idp.example.com: the tokens' issuer is https://<domain_name>. Point its A record at the output address."
}

variable "image_registry" {
  type        = string
  description = "Artifact Registry path of the images, e.g. europe-docker.pkg.dev/my-project/agentidp (a multi-region repository serves every region)."
}

variable "image_tag" {
  type        = string
  description = "The release to run: tag of every AgentIdP image."
}

variable "vault_addr" {
  type        = string
  description = "Your Vault (VAULT_ADDR), reachable from the Cloud NAT addresses (output egress_ips)."
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
  description = "Per service that uses Vault (credentials, token) and the first-admin bootstrap (bootstrap, docs/deploy.md): id of an existing Secret Manager secret (projects/<p>/secrets/<s>) holding its Vault token."
  validation {
    condition     = alltrue([for s in ["credentials", "token", "bootstrap"] : contains(keys(var.vault_token_secrets), s)])
    error_message = "vault_token_secrets: entries for credentials, token and bootstrap (the first platform admin, docs/deploy.md)."
  }
}

variable "min_instances" {
  type        = number
  description = "Cloud Run instances kept running per region (each runs the whole mesh); null: 2."
  default     = null
}

variable "max_instances" {
  type        = number
  description = "Cloud Run instance ceiling per region; null: the catalog's largest max (the token service's)."
  default     = null
}

variable "db_tier" {
  type        = string
  description = "Cloud SQL tier of the primary and the replicas."
  default     = "db-custom-1-3840"
}

variable "db_storage_gb" {
  type        = number
  description = "Initial database storage (GB); grows automatically."
  default     = 50
}

variable "db_high_availability" {
  type        = bool
  description = "Regional (two-zone) primary database."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Daily backups kept, with point-in-time recovery."
  default     = 14
}

variable "redis_memory_gb" {
  type        = number
  description = "Memorystore size per region (GB)."
  default     = 1
}

variable "redis_high_availability" {
  type        = bool
  description = "Memorystore STANDARD_HA (replica, automatic failover) per region."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the databases and Cloud Run services from deletion."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Labels on every resource that takes them (besides project and deployment)."
  default     = {}
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
