package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/api"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/token/internal/app"
	"github.com/sentryagent/agentidp/services/token/internal/keys/transit"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

// transitKey is TRANSIT_KEY's default, the key transit.Policy names.
const transitKey = "agentidp-token"

// vaultRoot is a root client of the platform's Vault.
func (p *platform) vaultRoot() *api.Client {
	conf := api.DefaultConfig()
	conf.Address = p.vault.Addr()
	c, err := api.NewClient(conf)
	if err != nil {
		panic(err) // only a malformed address, which testkit never gives
	}
	c.SetToken(p.vault.RootToken)
	return c
}

// enableTransit mounts the transit engine and creates a non-exportable
// ES256 key (as docs/deploy.md says an operator does), and returns a token
// with exactly transit.Policy: what the service runs with.
func (p *platform) enableTransit(t testing.TB) string {
	t.Helper()
	root := p.vaultRoot()
	if err := root.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil && !strings.Contains(err.Error(), "path is already in use") {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("transit/keys/"+transitKey, map[string]any{"type": transit.KeyType, "exportable": false}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("agentidp-token-transit", transit.Policy); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"agentidp-token-transit"}, TTL: "1h", NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Auth.ClientToken
}

// transitPublicKeys are the key's public keys by version, as Vault has them.
func (p *platform) transitPublicKeys() map[string]*ecdsa.PublicKey {
	p.t.Helper()
	s, err := p.vaultRoot().Logical().Read("transit/keys/" + transitKey)
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for v, k := range s.Data["keys"].(map[string]any) {
		block, _ := pem.Decode([]byte(k.(map[string]any)["public_key"].(string)))
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			p.t.Fatal(err)
		}
		out[v] = pub.(*ecdsa.PublicKey)
	}
	return out
}

// jwksKeys is a verifier's view of the service: the JWKS fetched over HTTP,
// again whenever a token names a kid it does not know (authz's rule).
type jwksKeys struct {
	url string
	mu  sync.Mutex
	set jose.JSONWebKeySet
}

func (k *jwksKeys) LookupOrRefresh(ctx context.Context, kid string) (accesstoken.Key, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		for _, jk := range k.set.Keys {
			if jk.KeyID == kid {
				return accesstoken.Key{ID: jk.KeyID, Alg: jk.Algorithm, Public: jk.Key}, true
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return accesstoken.Key{}, false
		}
		err = json.NewDecoder(resp.Body).Decode(&k.set)
		resp.Body.Close()
		if err != nil {
			return accesstoken.Key{}, false
		}
	}
	return accesstoken.Key{}, false
}

// verifier checks tokens of issuer as authz does, with s's JWKS.
func (s *tokenServer) verifier(issuer string) *accesstoken.Verifier {
	return accesstoken.New(accesstoken.Config{Keys: &jwksKeys{url: s.base + "/.well-known/jwks.json"},
		Issuer: issuer, Audience: "agentidp", Skew: 30 * time.Second})
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

// TestTransitSigning: with TOKEN_SIGNING=transit and a token holding only
// transit.Policy, tokens are signed by the transit key (its public key is
// the JWKS entry of the token's kid) and verify with libs/accesstoken over
// the JWKS fetched over HTTP; no private key is stored in KV; the key
// cannot be exported, neither with the service's token nor by anyone
// (exportable=false); a token signed by the stored key before the switch
// still verifies after it.
func TestTransitSigning(t *testing.T) {
	p := startPlatform(t)
	c := p.credential(p.agent("agents:read"), 0)

	// Before the switch: the stored (KV) key signs.
	const issuer = "https://idp.example.com"
	before := startToken(t, p.env("ISSUER="+issuer))
	old := before.mustToken(c, "")
	before.stop()

	svcToken := p.enableTransit(t)
	srv := startToken(t, p.env("ISSUER="+issuer, "TOKEN_SIGNING=transit", "VAULT_TOKEN="+svcToken))
	tok := srv.mustToken(c, "agents:read")
	v := srv.verifier(issuer)
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("transit-signed token does not verify with the published JWKS: %v", err)
	}
	if got.Subject == "" || got.ClientID != c.id {
		t.Fatalf("claims %+v", got.Claims)
	}
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("a token of the stored key, signed before the switch, no longer verifies: %v", err)
	}

	// The token's kid is transit's version 1, and nothing else signs.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(srv.do("GET", "/.well-known/jwks.json", "").body, &set); err != nil {
		t.Fatal(err)
	}
	kid := kidOf(t, tok)
	var published *ecdsa.PublicKey
	for _, k := range set.Keys {
		if k.KeyID == kid {
			published = k.Key.(*ecdsa.PublicKey)
		}
	}
	if published == nil || !published.Equal(p.transitPublicKeys()["1"]) {
		t.Fatalf("kid %s is not transit's key version 1 in the JWKS", kid)
	}
	if kid == kidOf(t, old) {
		t.Fatal("the stored key still signs after the switch")
	}
	for range 5 {
		if k := kidOf(t, srv.mustToken(c, "")); k != kid {
			t.Fatalf("token signed by %s, not the transit key %s", k, kid)
		}
	}

	// The KV document holds the cache key and the key of before the switch
	// (withdrawn after TOKEN_TTL + reload + 1m), and no new one.
	store, err := vaultstore.New(vaultstore.Config{Addr: p.vault.Addr(), Token: p.vault.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := store.Load(t.Context())
	if err != nil || len(doc.Keys) != 1 || doc.Keys[0].KID != kidOf(t, old) || doc.SigningStoppedAt == nil {
		t.Fatalf("KV after the switch: %d keys, stopped at %v, %v", len(doc.Keys), doc.SigningStoppedAt, err)
	}

	// Not exportable: the service's token may not ask, and Vault refuses
	// even the root token.
	svc := p.vaultRoot()
	svc.SetToken(svcToken)
	for _, path := range []string{"transit/export/signing-key/" + transitKey, "transit/backup/" + transitKey} {
		_, err := svc.Logical().Read(path)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
			t.Fatalf("%s with the service's token: %v, want 403", path, err)
		}
	}
	if _, err := p.vaultRoot().Logical().Read("transit/export/signing-key/" + transitKey); err == nil || !strings.Contains(err.Error(), "not exportable") {
		t.Fatalf("export with the root token: %v, want refused (not exportable)", err)
	}
	// Nor can the service make it exportable, or delete it.
	if _, err := svc.Logical().Write("transit/keys/"+transitKey+"/config", map[string]any{"exportable": true}); err == nil {
		t.Fatal("the service's token reconfigured the key")
	}
	if _, err := svc.Logical().Delete("transit/keys/" + transitKey); err == nil {
		t.Fatal("the service's token deleted the key")
	}
}

// TestTransitRefusesExportableKey: a key that can leave Vault (exportable,
// or with plaintext backups) stops the service at start-up.
func TestTransitRefusesExportableKey(t *testing.T) {
	p := startPlatform(t)
	p.enableTransit(t)
	root := p.vaultRoot()
	for name, params := range map[string]map[string]any{
		"exportable":      {"type": transit.KeyType, "exportable": true},
		"plaintextbackup": {"type": transit.KeyType, "exportable": true, "allow_plaintext_backup": true},
		"wrongtype":       {"type": "ed25519"},
	} {
		if _, err := root.Logical().Write("transit/keys/"+name, params); err != nil {
			t.Fatal(err)
		}
		env := p.env("TOKEN_SIGNING=transit", "TRANSIT_KEY="+name, "ISSUER=http://127.0.0.1:1")
		cfg, err := config.LoadFrom[app.Config](env)
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.New(t.Context(), cfg, app.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewRegistry()})
		want := map[string]string{"exportable": "is exportable", "plaintextbackup": "is exportable", "wrongtype": "ecdsa-p256"}[name]
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("key %s: start-up error %v, want one saying %q", name, err, want)
		}
	}
}

// TestTransitRotation runs the real schedule against transit with short
// intervals: the service rotates the transit key (transit.Policy allows
// it), every new version is in the JWKS at least JWKS_MAX_AGE before its
// first token, and tokens of retired versions still verify.
func TestTransitRotation(t *testing.T) {
	p := startPlatform(t)
	svcToken := p.enableTransit(t)
	srv := startToken(t, p.env("TOKEN_SIGNING=transit", "VAULT_TOKEN="+svcToken,
		"KEY_ROTATION_INTERVAL=3s", "KEY_PREPUBLISH=1500ms", "KEY_RELOAD_INTERVAL=200ms", "JWKS_MAX_AGE=1s", "TOKEN_TTL=1m"))
	c := p.credential(p.agent("agents:read"), 0)

	firstSeen := map[string]time.Time{}
	firstUsed := map[string]time.Time{}
	var tokens []string
	deadline := time.Now().Add(15 * time.Second)
	for len(firstUsed) < 3 && time.Now().Before(deadline) {
		var set jose.JSONWebKeySet
		now := time.Now()
		if err := json.Unmarshal(srv.do("GET", "/.well-known/jwks.json", "").body, &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if _, ok := firstSeen[k.KeyID]; !ok {
				firstSeen[k.KeyID] = now
			}
		}
		tok := srv.mustToken(c, "")
		if kid := kidOf(t, tok); firstUsed[kid].IsZero() {
			firstUsed[kid] = time.Now()
			tokens = append(tokens, tok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(firstUsed) < 3 {
		t.Fatalf("only %d transit versions signed in 15s with a 3s rotation", len(firstUsed))
	}
	bootstrap := kidOf(t, tokens[0])
	for kid, used := range firstUsed {
		lead := used.Sub(firstSeen[kid])
		t.Logf("version %.8s… published %s before its first token", kid, lead.Round(time.Millisecond))
		if kid != bootstrap && (firstSeen[kid].IsZero() || lead < time.Second) {
			t.Errorf("key %s published only %s before it signed (JWKS_MAX_AGE is 1s)", kid, lead)
		}
	}
	if n := len(p.transitPublicKeys()); n < 3 {
		t.Fatalf("transit key has %d versions: the service did not rotate it", n)
	}
	v := srv.verifier(srv.base)
	for i, tok := range tokens {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("token %d no longer verifies after rotation: %v", i, err)
		}
	}
}

// TestTransitVaultDown: with Vault gone, the token endpoint fails closed —
// 503 temporarily_unavailable at once, never a token signed by another
// key — even for a client whose authentication is cached.
func TestTransitVaultDown(t *testing.T) {
	p := startPlatform(t)
	svcToken := p.enableTransit(t)
	srv := startToken(t, p.env("TOKEN_SIGNING=transit", "VAULT_TOKEN="+svcToken))
	c := p.credential(p.agent("agents:read"), 0)
	warm(t, srv, c)
	p.vault.Kill()
	for i := range 5 {
		start := time.Now()
		r := srv.token(c, "")
		if r.status != http.StatusServiceUnavailable || r.json(t)["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("request %d with Vault down: %s, want 503 temporarily_unavailable", i, r)
		}
		if strings.Contains(string(r.body), "access_token") {
			t.Fatalf("a token without Vault: %s", r)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the 503 took %s", d)
		}
	}
	if n := srv.metric("agentidp_token_transit_sign_errors_total"); n < 5 {
		t.Fatalf("failed transit signatures counted: %v, want ≥ 5", n)
	}
	// Reported, but still ready: the JWKS and introspection work without
	// Vault, and token requests fail closed on their own.
	eventually(t, 5*time.Second, func() error {
		r := srv.do("GET", "/readyz", "")
		checks, _ := r.json(t)["checks"].(map[string]any)
		if r.status != http.StatusOK || checks["vault_transit"] == "ok" || checks["vault_transit"] == nil {
			return errorf("readyz with Vault down: %s", r)
		}
		return nil
	})
}
