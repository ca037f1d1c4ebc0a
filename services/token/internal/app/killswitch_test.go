package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// testKillSwitch: suspending an agent or revoking a credential stops token
// issuance within a second, even for clients whose authentication is
// cached; reactivation restores it.
func testKillSwitch(t *testing.T, p *platform, srv *tokenServer) {
	agentID := p.agent("agents:read")
	c := p.credential(agentID, 0)
	warm(t, srv, c)
	p.setStatus(agentID, "suspended")
	took := eventually(t, time.Second, func() error {
		if r := srv.token(c, ""); r.status != 400 || r.json(t)["error"] != "unauthorized_client" {
			return errorf("after suspension: %s", r)
		}
		return nil
	})
	t.Logf("suspension took effect after %s", took)
	p.setStatus(agentID, "active")
	eventually(t, time.Second, func() error {
		if r := srv.token(c, ""); r.status != 200 {
			return errorf("after reactivation: %s", r)
		}
		return nil
	})

	warm(t, srv, c)
	p.revokeCredential(c)
	took = eventually(t, time.Second, func() error {
		if r := srv.token(c, ""); r.status != 401 || r.json(t)["error"] != "invalid_client" {
			return errorf("after revocation: %s", r)
		}
		return nil
	})
	t.Logf("credential revocation took effect after %s", took)

	// Rotation with a grace period: both secrets work during it (the old
	// one re-verified), only the new one after it.
	c2 := p.credential(p.agent("agents:read"), 0)
	warm(t, srv, c2)
	rotated, err := p.credentials.RotateCredential(t.Context(), &credentialsv1.RotateCredentialRequest{
		AgentId: c2.id, CredentialId: c2.credentialID, GracePeriodSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	graceEnd := time.Now().Add(2 * time.Second)
	next := client{id: c2.id, secret: rotated.GetClientSecret(), credentialID: c2.credentialID}
	srv.mustToken(next, "")
	srv.mustToken(c2, "")
	time.Sleep(time.Until(graceEnd))
	took = eventually(t, time.Second, func() error {
		if r := srv.token(c2, ""); r.status != 401 {
			return errorf("old secret after the grace period: %s", r)
		}
		return nil
	})
	t.Logf("old secret refused %s after the grace period ended", took)
	srv.mustToken(next, "")
}

// warm gets tokens until the client's authentication is served from the
// cache, proving that what follows tests invalidation, not re-verification.
func warm(t *testing.T, srv *tokenServer, c client) {
	t.Helper()
	before := srv.metric("agentidp_token_client_auth_total", "result", "cache_hit")
	eventually(t, 3*time.Second, func() error {
		srv.mustToken(c, "")
		if srv.metric("agentidp_token_client_auth_total", "result", "cache_hit") <= before {
			return errorf("no cache hit yet (are both change feeds live?)")
		}
		return nil
	})
}

// testReplicas: two replicas share Redis and the keys: tokens from either
// verify against one JWKS, and a revocation through one is seen by the other.
func testReplicas(t *testing.T, p *platform, first *tokenServer) {
	second := startToken(t, p.env("ISSUER="+first.base))
	holder := p.credential(p.agent("agents:read"), 0)
	introspector := p.credential(p.agent("tokens:introspect"), 0)
	tokA := first.mustToken(holder, "")
	tokB := second.mustToken(holder, "")

	set, err := jwk.Fetch(t.Context(), first.base+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tokA, tokB} {
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer(first.base)); err != nil {
			t.Fatalf("a replica's token does not verify against the other's JWKS: %v", err)
		}
	}
	if a, b := first.do("GET", "/.well-known/jwks.json", ""), second.do("GET", "/.well-known/jwks.json", ""); string(a.body) != string(b.body) {
		t.Fatal("replicas publish different JWKS")
	}
	if r := first.post("/oauth2/revoke", url.Values{"token": {tokB}}, "Authorization", basicAuth(holder)); r.status != 200 {
		t.Fatalf("revoke: %s", r)
	}
	r := second.post("/oauth2/introspect", url.Values{"token": {tokB}}, "Authorization", basicAuth(introspector))
	if r.status != 200 || r.json(t)["active"] != false {
		t.Fatalf("the other replica does not see the revocation: %s", r)
	}
	if r := second.post("/oauth2/introspect", url.Values{"token": {tokA}}, "Authorization", basicAuth(introspector)); r.json(t)["active"] != true {
		t.Fatalf("unrevoked token: %s", r)
	}
}

// testRateLimit: a client over its limit gets 429 with Retry-After; other
// clients are unaffected.
func testRateLimit(t *testing.T, p *platform) {
	srv := startToken(t, p.env("RATE_LIMIT_PER_SECOND=1", "RATE_LIMIT_BURST=3"))
	c := p.credential(p.agent("agents:read"), 0)
	other := p.credential(p.agent("agents:read"), 0)
	for i := 0; i < 3; i++ {
		srv.mustToken(c, "")
	}
	r := srv.token(c, "")
	if r.status != 429 || r.json(t)["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %s %v", r, r.header)
	}
	if !strings.Contains(r.json(t)["error_description"].(string), "too many") {
		t.Fatalf("description: %s", r)
	}
	// Introspection and revocation authenticate the client too: guessing a
	// secret there costs the same budget.
	for _, path := range []string{"/oauth2/revoke", "/oauth2/introspect"} {
		if r := srv.post(path, url.Values{"token": {"x"}}, "Authorization", basicAuth(c)); r.status != 429 {
			t.Fatalf("%s over the limit: %s", path, r)
		}
	}
	srv.mustToken(other, "")
	time.Sleep(1100 * time.Millisecond)
	srv.mustToken(c, "")
	if srv.metric("agentidp_rate_limit_rejections_total") != 3 || srv.metric("agentidp_tokens_issued_total", "outcome", "rate_limited") != 1 {
		t.Fatal("rejection not counted")
	}
}
