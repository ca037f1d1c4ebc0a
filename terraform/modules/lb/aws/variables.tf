variable "name" {
  type        = string
  description = "Name prefix of every resource (e.g. agentidp-prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters (load balancer and target group names are short)."
  }
}

variable "regions" {
  type        = list(string)
  description = "AWS regions, primary first: one load balancer per region."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "domain_name" {
  type        = string
  description = "Public host name of the API (the issuer's host), e.g. idp.example.com."
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name: a lower-case DNS name such as idp.example.com."
  }
}

variable "backends" {
  type        = map(string)
  description = "Per region, the target group of Envoy (compute output backends)."
}

variable "network_ids" {
  type        = map(string)
  description = "VPC id per region (network output network_ids)."
}

variable "public_subnet_ids" {
  type        = map(list(string))
  description = "Public subnet ids per region (network output public_subnet_ids)."
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 hosted zone of domain_name: certificates are validated in it and latency-based records point each region's clients at the nearest load balancer. Null: bring certificate_arns and create DNS records yourself."
  default     = null
}

variable "certificate_arns" {
  type        = map(string)
  description = "Per region, an existing ACM certificate for domain_name (used instead of issuing one; required when route53_zone_id is null)."
  default     = {}
  validation {
    condition     = alltrue([for a in values(var.certificate_arns) : startswith(a, "arn:aws:acm:")])
    error_message = "certificate_arns: ACM certificate ARNs."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listeners."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  type        = number
  description = "Seconds an idle client connection stays open."
  default     = 60
  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout: between 1 and 4000 seconds."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the load balancers."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
