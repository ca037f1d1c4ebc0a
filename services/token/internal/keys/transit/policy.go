package transit

// Policy is the least-privilege Vault policy of the token service with
// TOKEN_SIGNING=transit, for TRANSIT_MOUNT=transit, TRANSIT_KEY=agentidp-token
// and VAULT_MOUNT=secret: sign with the key, read its public keys, rotate
// it (drop that path with TRANSIT_ROTATE=false), and keep the cache key in
// the KV document. Nothing exports, backs up, reconfigures or deletes the
// key. docs/token.md shows it verbatim; the tests run the service with
// exactly this policy.
const Policy = `# AgentIdP token service, TOKEN_SIGNING=transit: ES256 with transit/keys/agentidp-token.
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
