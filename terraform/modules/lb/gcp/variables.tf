variable "name" {
  type        = string
  description = "Name prefix of every resource (e.g. agentidp-prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name: lower-case letters, digits and dashes, 2-20 characters (load balancer and target group names are short)."
  }
}

variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "regions" {
  type        = list(string)
  description = "Google Cloud regions, primary first: one serverless network endpoint group per region behind one global load balancer."
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) == length(distinct(var.regions))
    error_message = "regions: at least one, no duplicates."
  }
}

variable "domain_name" {
  type        = string
  description = "Public host name of the API (the issuer's host), e.g. idp.example.com; point its A record at the output addresses."
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name: a lower-case DNS name such as idp.example.com."
  }
}

variable "backends" {
  type        = map(string)
  description = "Per region, the Cloud Run service to send traffic to (compute output backends)."
}

variable "ssl_policy_min_tls" {
  type        = string
  description = "Minimum TLS version at the load balancer."
  default     = "TLS_1_2"
  validation {
    condition     = contains(["TLS_1_2", "TLS_1_3"], var.ssl_policy_min_tls)
    error_message = "ssl_policy_min_tls: TLS_1_2 or TLS_1_3."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the resources that take them."
  default     = {}
}
