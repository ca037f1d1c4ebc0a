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
  description = "Google Cloud regions, primary first. A VPC is global: one subnet per region."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "subnet_cidrs" {
  type        = map(string)
  description = "Subnet CIDR per region for Cloud Run's direct VPC egress (a /24 or larger; each instance takes addresses), e.g. {\"europe-west1\" = \"10.20.0.0/20\"}."
  validation {
    condition     = alltrue([for c in values(var.subnet_cidrs) : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) <= 24])
    error_message = "subnet_cidrs: each value must be a CIDR block of /24 or larger."
  }
}

variable "private_services_cidr" {
  type        = string
  description = "Range reserved for private services access (Cloud SQL and Memorystore private IPs), a /20 or larger not used elsewhere."
  default     = "10.250.0.0/16"
  validation {
    condition     = can(cidrhost(var.private_services_cidr, 0)) && tonumber(split("/", var.private_services_cidr)[1]) <= 20
    error_message = "private_services_cidr: a CIDR block of /20 or larger."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the resources that take them."
  default     = {}
}
