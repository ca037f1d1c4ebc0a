terraform {
  # OpenTofu 1.10+ works too.
  required_version = ">= 1.10"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    # The mesh CA and certificates (modules/agentidp/mesh-ca).
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
  # Partial configuration: `terraform init -backend-config="bucket=..."`.
  backend "gcs" {
    prefix = "agentidp"
  }
}

# Google resources take their region or location as an argument, so one
# provider serves every region of var.regions.
provider "google" {
  project        = var.project_id
  region         = var.regions[0]
  default_labels = local.labels
}
