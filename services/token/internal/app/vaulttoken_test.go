package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

// The token service survives its Vault token's TTL: given a periodic token
// with a 3 s period (it expires 3 s after its last renewal), the service
// keeps rotating signing keys, each rotation a check-and-set write to
// Vault, for four periods. Without renewal the token would be gone after
// 3 s and every rotation after that would fail.
func TestSurvivesVaultTokenPeriod(t *testing.T) {
	p := startPlatform(t)
	token, err := p.vault.PolicyToken(context.Background(), "agentidp-token-short", vaultstore.Policy, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv := startToken(t, p.env("VAULT_TOKEN="+token, "KEY_ROTATION_INTERVAL=3s", "KEY_PREPUBLISH=1500ms",
		"KEY_RELOAD_INTERVAL=200ms", "JWKS_MAX_AGE=1s", "TOKEN_TTL=1m"))
	c := p.credential(p.agent("agents:read"), 0)
	kids := map[string]time.Duration{} // kid -> when it first signed, since start
	for time.Since(start) < 12*time.Second {
		msg, err := jws.Parse([]byte(srv.mustToken(c, "")))
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
		if _, ok := kids[kid]; !ok {
			kids[kid] = time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	late := 0
	for _, at := range kids {
		if at > 7*time.Second { // over two periods after the token was made
			late++
		}
	}
	if late == 0 {
		t.Fatalf("no key rotated in after two token periods (keys first used at %v): the Vault token was not kept alive", kids)
	}
	if logs := srv.logs.String(); strings.Contains(logs, "permission denied") || strings.Contains(logs, "Code: 403") {
		t.Fatalf("Vault refused the token at some point:\n%s", tail(logs, 4000))
	}
	// The token is still valid, with its full period ahead of it.
	if err := p.vault.LookupToken(context.Background(), token); err != nil {
		t.Fatalf("the Vault token expired: %v", err)
	}
}
