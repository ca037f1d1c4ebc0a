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
  description = "AWS regions, primary first. One VPC per region; the primary's VPC is peered with every other."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "vpc_cidrs" {
  type        = map(string)
  description = "VPC CIDR block per region (non-overlapping: the VPCs are peered), e.g. {\"eu-west-1\" = \"10.10.0.0/16\"}."
  validation {
    condition     = alltrue([for c in values(var.vpc_cidrs) : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) <= 20])
    error_message = "vpc_cidrs: each value must be a CIDR block of /20 or larger."
  }
}

variable "az_count" {
  type        = number
  description = "Availability zones per region (a public and a private subnet in each)."
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count: between 2 and 4 (two for high availability)."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway per region instead of one per zone: cheaper, but a zone outage cuts egress (Vault, image pulls) for the others."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
