package vault

import "github.com/sentryagent/agentidp/libs/vaultclient"

// Policy is the least-privilege Vault policy for the service's token, for
// the default mount "secret" (docs/credentials.md shows it too; a test
// checks that the service starts with exactly this policy).
const Policy = vaultclient.CredentialsPolicy
