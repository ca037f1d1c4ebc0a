# The mesh CA and one certificate per identity (docs/architecture.md,
# "Mutual TLS inside the mesh"), shaped like libs/mtls's dev CA: ECDSA P-256
# keys, the CA's URI SAN spiffe://agentidp.local, each leaf's URI SAN
# spiffe://agentidp.local/<identity>, usable for both client and server
# auth, no DNS names (clients check the server's SPIFFE ID, not its address,
# so Cloud Map names and 127.0.0.1 need none). Provider-free: the compute
# modules store the PEMs in their cloud's secret store.
#
# Every key, the CA's included, lives in the Terraform state only: keep the
# state encrypted and its access as narrow as the secrets it already holds.
#
# Rotation happens at `terraform apply`: a leaf within renew_days_before of
# its end is re-issued (early_renewal_hours) for the same key, and the
# compute modules roll new ECS task / Cloud Run revisions with it. A new key:
# terraform apply -replace='module.compute.module.mesh_ca.tls_private_key.leaf["<identity>"]'. The CA is not renewed automatically: a new
# CA re-issues every leaf at once, and during that rollout old and new
# tasks would not trust each other (terraform/README.md, "Mesh certificates").
locals {
  trust_domain = "agentidp.local"
}

resource "tls_private_key" "ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_self_signed_cert" "ca" {
  private_key_pem       = tls_private_key.ca.private_key_pem
  is_ca_certificate     = true
  validity_period_hours = var.ca_validity_days * 24
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature"]
  uri_sans              = ["spiffe://${local.trust_domain}"]
  subject {
    common_name  = "${var.name} mesh CA"
    organization = "AgentIdP"
  }
}

resource "tls_private_key" "leaf" {
  for_each    = toset(var.identities)
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "leaf" {
  for_each        = toset(var.identities)
  private_key_pem = tls_private_key.leaf[each.key].private_key_pem
  uri_sans        = ["spiffe://${local.trust_domain}/${each.key}"]
  subject {
    common_name  = each.key
    organization = "AgentIdP"
  }
}

resource "tls_locally_signed_cert" "leaf" {
  for_each              = toset(var.identities)
  cert_request_pem      = tls_cert_request.leaf[each.key].cert_request_pem
  ca_private_key_pem    = tls_private_key.ca.private_key_pem
  ca_cert_pem           = tls_self_signed_cert.ca.cert_pem
  validity_period_hours = var.validity_days * 24
  # `terraform apply` within this window re-issues the certificate.
  early_renewal_hours = var.renew_days_before * 24
  allowed_uses        = ["digital_signature", "client_auth", "server_auth"]
}
