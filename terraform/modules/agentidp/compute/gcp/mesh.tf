# Mesh certificates (docs/deploy.md, "Mesh certificates"): the mesh CA and
# one certificate per identity come from agentidp/mesh-ca (hashicorp/tls; the
# keys live in the state only), stored in Secret Manager: one secret for the
# CA and, per identity, one for the certificate and one for the key. Cloud
# Run mounts secrets as files: each container mounts its own identity's
# certificate and key and the CA under /etc/agentidp-mesh (one volume per
# secret, so three directories), and nothing else's. Envoy mounts the
# gateway's, whose files the control plane names over SDS.
#
# Rotation: an apply re-issues a certificate within renew_days_before of its
# end. The volumes name the secret VERSION, so a renewed certificate is a new
# Cloud Run revision and instances roll onto it (the files in a running
# instance never change).
locals {
  # Every process of libs/mtls: the catalog's services (the gateway's
  # identity covers its control plane and Envoy) and the bootstrap container.
  mesh_identities = ["audit", "authz", "bootstrap", "credentials", "gateway", "registry", "token"]

  mesh_dir = "/etc/agentidp-mesh"
  mesh_env = {
    TLS_CERT_FILE = "/etc/agentidp-mesh/cert/tls.crt"
    TLS_KEY_FILE  = "/etc/agentidp-mesh/key/tls.key"
    TLS_CA_FILE   = "/etc/agentidp-mesh/ca/ca.crt"
  }

  # Volume name => the secret, its pinned version and the file name.
  mesh_volumes = merge(
    { "mesh-ca" = { secret = google_secret_manager_secret.mesh_ca.secret_id, version = google_secret_manager_secret_version.mesh_ca.version, path = basename(local.mesh_env.TLS_CA_FILE) } },
    { for id in local.mesh_identities : "mesh-${id}-cert" => { secret = google_secret_manager_secret.mesh_cert[id].secret_id, version = google_secret_manager_secret_version.mesh_cert[id].version, path = basename(local.mesh_env.TLS_CERT_FILE) } },
    { for id in local.mesh_identities : "mesh-${id}-key" => { secret = google_secret_manager_secret.mesh_key[id].secret_id, version = google_secret_manager_secret_version.mesh_key[id].version, path = basename(local.mesh_env.TLS_KEY_FILE) } },
  )
  # Per identity: volume name => mount path.
  mesh_mounts = {
    for id in local.mesh_identities : id => {
      "mesh-ca"         = dirname(local.mesh_env.TLS_CA_FILE)
      "mesh-${id}-cert" = dirname(local.mesh_env.TLS_CERT_FILE)
      "mesh-${id}-key"  = dirname(local.mesh_env.TLS_KEY_FILE)
    }
  }
  mesh_secrets = concat(
    [google_secret_manager_secret.mesh_ca.id],
    [for id in local.mesh_identities : google_secret_manager_secret.mesh_cert[id].id],
    [for id in local.mesh_identities : google_secret_manager_secret.mesh_key[id].id],
  )
}

module "mesh_ca" {
  source            = "../../mesh-ca"
  name              = var.name
  identities        = local.mesh_identities
  validity_days     = var.mesh_cert_validity_days
  renew_days_before = var.mesh_cert_renew_days_before
}

resource "google_secret_manager_secret" "mesh_ca" {
  project   = var.project_id
  secret_id = "${var.name}-mesh-ca"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "mesh_ca" {
  secret      = google_secret_manager_secret.mesh_ca.id
  secret_data = module.mesh_ca.ca_pem
}

resource "google_secret_manager_secret" "mesh_cert" {
  for_each  = toset(local.mesh_identities)
  project   = var.project_id
  secret_id = "${var.name}-mesh-${each.key}-cert"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "mesh_cert" {
  for_each    = toset(local.mesh_identities)
  secret      = google_secret_manager_secret.mesh_cert[each.key].id
  secret_data = module.mesh_ca.certs[each.key].cert
}

resource "google_secret_manager_secret" "mesh_key" {
  for_each  = toset(local.mesh_identities)
  project   = var.project_id
  secret_id = "${var.name}-mesh-${each.key}-key"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "mesh_key" {
  for_each    = toset(local.mesh_identities)
  secret      = google_secret_manager_secret.mesh_key[each.key].id
  secret_data = module.mesh_ca.certs[each.key].key
}
