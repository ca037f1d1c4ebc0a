terraform {
  required_version = ">= 1.10"
  required_providers {
    # 4.0: private_key_pem_pkcs8, uri_sans on requests and CAs.
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0"
    }
  }
}
