terraform {
  # 1.10: S3 state locking without DynamoDB; cross-variable validations.
  # OpenTofu 1.10+ works too.
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
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
  # Partial configuration: bucket, key and region come from
  # `terraform init -backend-config=backend.hcl` (README.md).
  backend "s3" {}
}

# One provider for every region: AWS provider 6 takes `region` on each
# regional resource, so the modules loop over var.regions.
provider "aws" {
  region = var.regions[0]
  default_tags {
    tags = local.tags
  }
}
