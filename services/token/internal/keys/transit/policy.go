package transit

import "github.com/sentryagent/agentidp/libs/vaultclient"

// Policy is the least-privilege Vault policy of the token service with
// TOKEN_SIGNING=transit, for TRANSIT_MOUNT=transit, TRANSIT_KEY=agentidp-token
// and VAULT_MOUNT=secret: sign with the key, read its public keys, rotate
// it (drop that path with TRANSIT_ROTATE=false), and keep the cache key in
// the KV document. Nothing exports, backs up, reconfigures or deletes the
// key. docs/token.md shows it verbatim; the tests run the service with
// exactly this policy.
const Policy = vaultclient.TokenTransitPolicy
