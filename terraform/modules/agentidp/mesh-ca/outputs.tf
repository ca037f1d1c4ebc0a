output "ca_pem" {
  description = "The mesh CA certificate (PEM): every process's TLS_CA_FILE."
  value       = tls_self_signed_cert.ca.cert_pem
}

output "certs" {
  description = "Per identity: cert (PEM, TLS_CERT_FILE), key (PKCS#8 PEM, TLS_KEY_FILE) and not_after (RFC 3339)."
  sensitive   = true
  value = {
    for id in var.identities : id => {
      cert      = tls_locally_signed_cert.leaf[id].cert_pem
      key       = tls_private_key.leaf[id].private_key_pem_pkcs8
      not_after = tls_locally_signed_cert.leaf[id].validity_end_time
    }
  }
}
