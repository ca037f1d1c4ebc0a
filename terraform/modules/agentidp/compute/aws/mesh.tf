# Mesh certificates (docs/deploy.md, "Mesh certificates"): the mesh CA and
# one certificate per identity come from agentidp/mesh-ca (hashicorp/tls; the
# keys live in the state only). Each identity's three PEMs are one Secrets
# Manager secret per region (JSON keys cert, key, ca). ECS injects secrets
# only as environment variables and the services read files, so every task
# starts with a one-shot "mesh-certs" container (busybox, as the gateway's
# config-writer) that writes them into the task's "mesh" volume, owned by the
# services' user; the service's containers mount it read-only at
# /etc/agentidp-mesh and start after it succeeded.
#
# Rotation: an apply re-issues a certificate within renew_days_before of its
# end. The task definitions name the secret VERSION (valueFrom ...:version-id),
# so a renewed certificate is a new task definition revision and ECS rolls
# the service's tasks onto it (the files in a running task never change).
locals {
  # Every process of libs/mtls: the catalog's services (the gateway's
  # identity covers its control plane and Envoy) and the bootstrap task.
  mesh_identities = ["audit", "authz", "bootstrap", "credentials", "gateway", "registry", "token"]

  mesh_dir = "/etc/agentidp-mesh"
  mesh_env = {
    TLS_CERT_FILE = "/etc/agentidp-mesh/tls.crt"
    TLS_KEY_FILE  = "/etc/agentidp-mesh/tls.key"
    TLS_CA_FILE   = "/etc/agentidp-mesh/ca.crt"
  }

  # The key first, readable by the services' user only.
  mesh_write = join(" && ", [
    "umask 077",
    "printf '%s' \"$MESH_KEY\" > ${local.mesh_env.TLS_KEY_FILE}",
    "printf '%s' \"$MESH_CERT\" > ${local.mesh_env.TLS_CERT_FILE}",
    "printf '%s' \"$MESH_CA\" > ${local.mesh_env.TLS_CA_FILE}",
    "chmod 0444 ${local.mesh_env.TLS_CERT_FILE} ${local.mesh_env.TLS_CA_FILE}",
    "chown 65532:65532 ${local.mesh_env.TLS_KEY_FILE} ${local.mesh_env.TLS_CERT_FILE} ${local.mesh_env.TLS_CA_FILE}",
  ])

  # The writer container of each region/identity, but its log configuration.
  mesh_writer = {
    for k, v in aws_secretsmanager_secret_version.mesh : k => {
      name                   = "mesh-certs"
      image                  = "public.ecr.aws/docker/library/busybox:1.37"
      essential              = false
      readonlyRootFilesystem = true
      entryPoint             = ["sh", "-c"]
      command                = [local.mesh_write]
      secrets = [
        for env, key in { MESH_CERT = "cert", MESH_KEY = "key", MESH_CA = "ca" } :
        { name = env, valueFrom = "${aws_secretsmanager_secret.mesh[k].arn}:${key}::${v.version_id}" }
      ]
      mountPoints = [{ sourceVolume = "mesh", containerPath = local.mesh_dir, readOnly = false }]
    }
  }
  # What the service's own containers add.
  mesh_mount     = { sourceVolume = "mesh", containerPath = local.mesh_dir, readOnly = true }
  mesh_depends   = { containerName = "mesh-certs", condition = "SUCCESS" }
  mesh_secret_of = { for k, s in aws_secretsmanager_secret.mesh : k => s.arn }
}

module "mesh_ca" {
  source            = "../../mesh-ca"
  name              = var.name
  identities        = local.mesh_identities
  validity_days     = var.mesh_cert_validity_days
  renew_days_before = var.mesh_cert_renew_days_before
}

resource "aws_secretsmanager_secret" "mesh" {
  for_each = merge([
    for r in var.regions : { for id in local.mesh_identities : "${r}/${id}" => { region = r, identity = id } }
  ]...)
  region                  = each.value.region
  name                    = "${var.name}/${each.value.identity}/mesh-tls"
  description             = "Mesh certificate of ${each.value.identity} (spiffe://agentidp.local/${each.value.identity}): JSON keys cert, key, ca. Written by Terraform."
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "mesh" {
  for_each  = aws_secretsmanager_secret.mesh
  region    = each.value.region
  secret_id = each.value.id
  secret_string = jsonencode({
    cert = module.mesh_ca.certs[split("/", each.key)[1]].cert
    key  = module.mesh_ca.certs[split("/", each.key)[1]].key
    ca   = module.mesh_ca.ca_pem
  })
}
