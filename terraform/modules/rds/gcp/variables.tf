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
  description = "Google Cloud regions, primary first. The primary holds the writable instance; every other region a cross-region read replica."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "databases" {
  type        = list(string)
  description = "Services that own a database: each gets database and user agentidp_<service> and a DATABASE_URL secret."
  validation {
    condition     = alltrue([for d in var.databases : can(regex("^[a-z][a-z0-9_]{0,30}$", d))])
    error_message = "databases: service names of lower-case letters, digits and underscores."
  }
}

variable "tier" {
  type        = string
  description = "Cloud SQL machine tier of the primary and the replicas, e.g. db-custom-1-3840 (1 vCPU, 3.75 GB) or db-custom-4-16384."
  default     = "db-custom-1-3840"
  validation {
    condition     = can(regex("^db-(custom-[0-9]+-[0-9]+|perf-optimized-N-[0-9]+|n1-|g1-)", var.tier))
    error_message = "tier: a Cloud SQL tier such as db-custom-2-7680."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version."
  default     = "17"
  validation {
    condition     = can(regex("^1[5-9]$", var.engine_version))
    error_message = "engine_version: a PostgreSQL major version from 15."
  }
}

variable "storage_gb" {
  type        = number
  description = "SSD storage in GB; grows automatically."
  default     = 50
  validation {
    condition     = var.storage_gb >= 10 && var.storage_gb <= 65536
    error_message = "storage_gb: between 10 and 65536."
  }
}

variable "high_availability" {
  type        = bool
  description = "A synchronous standby in another zone of the primary region (REGIONAL availability)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Backups kept (daily), with point-in-time recovery."
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 365
    error_message = "backup_retention_days: between 1 and 365."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instances (turn off before destroying on purpose)."
  default     = true
}

variable "network_ids" {
  type        = map(string)
  description = "VPC per region (network module output network_ids); instances get private IPs in it."
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the resources that take them."
  default     = {}
}
