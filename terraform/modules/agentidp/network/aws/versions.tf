terraform {
  required_version = ">= 1.10"
  required_providers {
    # 6.x: every regional resource takes a `region` argument, so one provider
    # configuration serves every region of var.regions.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}
