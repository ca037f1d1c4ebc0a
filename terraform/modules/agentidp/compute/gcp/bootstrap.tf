# bootstrap: the deployment's first platform admin (docs/deploy.md). Cloud
# Run instances expose only Envoy, and the gateway's policy needs an admin
# before it lets anyone register one, so nothing outside an instance can
# reach the registry and credentials services that create it. The
# bootstrap therefore runs inside every instance, as one more container
# beside them (on 127.0.0.1), started after both: `agentidp bootstrap`
# registers the admin and a credential the first time and writes the secret
# to your Vault, the secret store the services already use: KV v2 entry
# <vault_mount>/agentidp/bootstrap/platform-admin (output
# platform_admin_vault_path). In every later instance it finds the entry
# holding a working secret and changes nothing; concurrent first instances
# issue one credential (cli/bootstrap). --keep-running keeps the container
# up afterwards: a Cloud Run container must not exit. Its Vault token
# (vault_token_secrets["bootstrap"]) needs create, read and update on that
# entry only.
locals {
  bootstrap_path = "agentidp/bootstrap/platform-admin"

  bootstrap_env = {
    AGENTIDP_REGISTRY_ADDR    = "127.0.0.1:${var.services.registry.port}"
    AGENTIDP_CREDENTIALS_ADDR = "127.0.0.1:${var.services.credentials.port}"
    # Handed over with the credential: the public URL (the tokens' issuer).
    AGENTIDP_URL = var.public_url
    VAULT_ADDR   = var.vault_addr
    VAULT_MOUNT  = var.vault_mount
    # Its mesh identity, bootstrap (mesh.tf).
    TLS_CERT_FILE = local.mesh_env.TLS_CERT_FILE
    TLS_KEY_FILE  = local.mesh_env.TLS_KEY_FILE
    TLS_CA_FILE   = local.mesh_env.TLS_CA_FILE
  }
  bootstrap_secrets = {
    VAULT_TOKEN = lookup(var.vault_token_secrets, "bootstrap", "")
  }
  # The services the bootstrap calls: it starts after their startup probes.
  bootstrap_calls = ["registry", "credentials"]
}
