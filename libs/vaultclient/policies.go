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
)
