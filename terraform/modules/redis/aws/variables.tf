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
  description = "AWS regions: one independent Redis replication group per region, used by that region's token, authz and audit services."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "engine" {
  type        = string
  description = "ElastiCache engine: redis, or valkey (protocol-compatible, cheaper)."
  default     = "redis"
  validation {
    condition     = contains(["redis", "valkey"], var.engine)
    error_message = "engine: redis or valkey."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version (7.1 for redis, 8.0 for valkey)."
  default     = "7.1"
}

variable "node_type" {
  type        = string
  description = "Node type, e.g. cache.t4g.small (dev) or cache.r7g.large."
  default     = "cache.t4g.small"
  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "node_type: an ElastiCache node type such as cache.t4g.small."
  }
}

variable "replicas_per_region" {
  type        = number
  description = "Read replicas beside each primary node; at least 1 enables Multi-AZ automatic failover."
  default     = 1
  validation {
    condition     = var.replicas_per_region >= 0 && var.replicas_per_region <= 5
    error_message = "replicas_per_region: between 0 and 5."
  }
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
  type        = map(list(string))
  description = "Per region, the address ranges allowed on 6379 (that region's task subnets: network output cidr_blocks)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
