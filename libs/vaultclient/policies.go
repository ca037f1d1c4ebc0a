package vaultclient

// The least-privilege Vault policies of the services, for the default KV v2
// mount "secret" (replace "secret/" with VAULT_MOUNT). Deployments write
// them as they are (the local stack, deploy/k8s, docs/credentials.md and
// docs/token.md show the same text; tests run the services with exactly
// these policies).
const (
	// CredentialsPolicy: client secret verifiers under
	// secret/agentidp/agents/ (write, read, destroy versions, delete paths).
	CredentialsPolicy = `# AgentIdP credentials service: client secret verifiers under secret/agentidp/agents/.
path "secret/data/agentidp/agents/*" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/agentidp/agents/*" {
  capabilities = ["read", "list", "delete"]
}
path "secret/destroy/agentidp/agents/*" {
  capabilities = ["update"]
}
`
	// TokenPolicy: the token service's signing keys.
	TokenPolicy = `# AgentIdP token service: signing keys at secret/agentidp/token/signing-keys.
path "secret/data/agentidp/token/signing-keys" {
  capabilities = ["create", "read", "update"]
}
`
	// TokenTransitPolicy: the token service with TOKEN_SIGNING=transit
	// (TRANSIT_KEY=agentidp-token): sign, read the public keys, rotate; the
	// KV document keeps the client-authentication cache key. Nothing
	// exports, backs up, reconfigures or deletes the key.
	TokenTransitPolicy = `# AgentIdP token service, TOKEN_SIGNING=transit: ES256 with transit/keys/agentidp-token.
path "transit/sign/agentidp-token" {
  capabilities = ["update"]
}
path "transit/keys/agentidp-token" {
  capabilities = ["read"]
}
path "transit/keys/agentidp-token/rotate" {
  capabilities = ["update"]
}
# The client-authentication cache key (and the stored keys of before the switch).
path "secret/data/agentidp/token/signing-keys" {
  capabilities = ["create", "read", "update"]
}
`
	// AuditCheckpointPolicy: the audit service's checkpoint signer with
	// AUDIT_CHECKPOINT_TRANSIT_KEY=agentidp-audit-checkpoints: sign, read
	// the public keys, create the key on the first start (Vault checks
	// update, not create, for the transit key's write; that path's write
	// only creates: rotation and settings are other paths). Nothing exports,
	// rotates, reconfigures or deletes it.
	AuditCheckpointPolicy = `# AgentIdP audit service: signs chain checkpoints with transit/keys/agentidp-audit-checkpoints.
path "transit/sign/agentidp-audit-checkpoints" {
  capabilities = ["update"]
}
path "transit/keys/agentidp-audit-checkpoints" {
  capabilities = ["read", "create", "update"]
}
`
)
