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
  description = "Google Cloud regions: one independent Memorystore instance per region, used by that region's token, authz and audit services."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "memory_size_gb" {
  type        = number
  description = "Memory per instance in GB (the audit stream's backlog during an audit outage needs about 300 MB at its cap; docs/audit.md)."
  default     = 1
  validation {
    condition     = var.memory_size_gb >= 1 && var.memory_size_gb <= 300
    error_message = "memory_size_gb: between 1 and 300."
  }
}

variable "redis_version" {
  type        = string
  description = "Memorystore Redis version."
  default     = "REDIS_7_2"
  validation {
    condition     = can(regex("^REDIS_[67]_[0-9X]$", var.redis_version))
    error_message = "redis_version: e.g. REDIS_7_2."
  }
}

variable "high_availability" {
  type        = bool
  description = "STANDARD_HA (a replica in another zone, automatic failover) instead of BASIC."
  default     = true
}

variable "network_ids" {
  type        = map(string)
  description = "VPC per region (network module output network_ids); instances use private services access."
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the resources that take them."
  default     = {}
}
