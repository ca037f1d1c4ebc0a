package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Token signing modes of Config.TokenSigning (the token service's
// TOKEN_SIGNING).
const (
	SigningLocal   = "local"
	SigningTransit = "transit"
)

// TransitKey is the transit key the token services sign with when
// Config.TokenSigning is SigningTransit (TRANSIT_KEY's default).
const TransitKey = "agentidp-token"

// enableTransit mounts Vault's transit engine at transit/ and creates the
// token services' ES256 key, not exportable, as docs/deploy.md tells an
// operator to; both are kept across restarts of the stack (Vault's data
// is), so this only acts on the first start with transit signing.
func (s *Stack) enableTransit(ctx context.Context) error {
	conf := api.DefaultConfig()
	conf.Address = s.vault.Addr()
	c, err := api.NewClient(conf)
	if err != nil {
		return err
	}
	c.SetToken(s.vault.RootToken)
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("vault: list mounts: %w", err)
	}
	if _, ok := mounts["transit/"]; !ok {
		if err := c.Sys().MountWithContext(ctx, "transit", &api.MountInput{Type: "transit"}); err != nil && !strings.Contains(err.Error(), "already in use") {
			return fmt.Errorf("vault: enable transit: %w", err)
		}
	}
	// Creating an existing key changes nothing.
	if _, err := c.Logical().WriteWithContext(ctx, "transit/keys/"+TransitKey,
		map[string]any{"type": "ecdsa-p256", "exportable": false, "allow_plaintext_backup": false}); err != nil {
		return fmt.Errorf("vault: create transit key %s: %w", TransitKey, err)
	}
	return nil
}
