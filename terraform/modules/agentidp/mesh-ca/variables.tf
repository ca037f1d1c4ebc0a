variable "name" {
  type        = string
  description = "Deployment name, in the CA's common name."
}

variable "identities" {
  type        = list(string)
  description = "Mesh identities to issue a certificate for (libs/mtls: registry, credentials, audit, token, authz, gateway, bootstrap)."
  validation {
    condition     = alltrue([for i in var.identities : can(regex("^[a-z][a-z0-9-]*$", i))])
    error_message = "identities: lower-case names (the last segment of spiffe://agentidp.local/<identity>)."
  }
}

variable "validity_days" {
  type        = number
  description = "Lifetime of each identity's certificate, in days."
  default     = 90
}

variable "renew_days_before" {
  type        = number
  description = "An apply this many days (or fewer) before a certificate ends re-issues it. Apply at least this often."
  default     = 30
  validation {
    condition     = var.renew_days_before > 0 && var.renew_days_before < var.validity_days
    error_message = "renew_days_before: more than 0 and less than validity_days."
  }
}

variable "ca_validity_days" {
  type        = number
  description = "Lifetime of the mesh CA, in days (not renewed automatically: see main.tf)."
  default     = 3650
}
