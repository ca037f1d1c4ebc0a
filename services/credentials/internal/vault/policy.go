package vault

// Policy is the least-privilege Vault policy for the service's token, for
// the default mount "secret" (docs/credentials.md shows it too; a test
// checks that the service starts with exactly this policy).
const Policy = `# AgentIdP credentials service: client secrets under secret/agentidp/agents/.
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
