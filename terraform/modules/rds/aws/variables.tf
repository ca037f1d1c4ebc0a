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
  description = "AWS regions, primary first. The primary holds the writable instance; every other region a cross-region read replica."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "databases" {
  type        = list(string)
  description = "Services that own a database: each gets database and login role agentidp_<service> and a DATABASE_URL secret per region."
  validation {
    condition     = alltrue([for d in var.databases : can(regex("^[a-z][a-z0-9_]{0,30}$", d))])
    error_message = "databases: service names of lower-case letters, digits and underscores."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class of the primary and the replicas, e.g. db.t4g.medium (small) or db.r7g.large."
  default     = "db.t4g.medium"
  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class: an RDS instance class such as db.t4g.medium."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version."
  default     = "17"
  validation {
    condition     = can(regex("^1[5-9]$", var.engine_version))
    error_message = "engine_version: a PostgreSQL major version from 15 (the services use PostgreSQL 15+ features)."
  }
}

variable "storage_gb" {
  type        = number
  description = "Allocated gp3 storage in GiB; grows automatically up to four times this."
  default     = 50
  validation {
    condition     = var.storage_gb >= 20 && var.storage_gb <= 16384
    error_message = "storage_gb: between 20 and 16384."
  }
}

variable "high_availability" {
  type        = bool
  description = "A synchronous standby in another zone of the primary region (Multi-AZ)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Automated backup retention of the primary (point-in-time recovery window)."
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days: between 1 and 35."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instances (turn off before destroying on purpose)."
  default     = true
}

variable "network_ids" {
  type        = map(string)
  description = "VPC id per region (network module output network_ids)."
}

variable "subnet_ids" {
  type        = map(list(string))
  description = "Private subnet ids per region (network module output subnet_ids)."
}

variable "client_cidrs" {
  type        = list(string)
  description = "Address ranges allowed to connect on 5432: every region's task subnets (the primary serves all regions)."
  validation {
    condition     = alltrue([for c in var.client_cidrs : can(cidrhost(c, 0))])
    error_message = "client_cidrs: CIDR blocks."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
