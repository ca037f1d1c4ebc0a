package app_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func basicAuth(c client) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret)))
}

// testIntrospectAndRevoke covers RFC 7662 (who may ask, what active means)
// and RFC 7009 (own tokens only, 200 for anything unknown).
func testIntrospectAndRevoke(t *testing.T, p *platform, srv *tokenServer) {
	introspector := p.credential(p.agent("tokens:introspect"), 0)
	holderAgent := p.agent("agents:read")
	holder := p.credential(holderAgent, 0)
	tok := srv.mustToken(holder, "")

	introspect := func(token string, header ...string) response {
		return srv.post("/oauth2/introspect", url.Values{"token": {token}}, header...)
	}
	// By client credentials (basic), then by bearer token.
	r := introspect(tok, "Authorization", basicAuth(introspector))
	m := r.json(t)
	if r.status != 200 || m["active"] != true || m["sub"] != holderAgent || m["client_id"] != holder.id ||
		m["scope"] != "agents:read" || m["token_type"] != "Bearer" || m["jti"] == nil || m["exp"] == nil {
		t.Fatalf("introspection: %s", r)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("introspection is cacheable")
	}
	bearer := srv.mustToken(introspector, "tokens:introspect")
	if r := introspect(tok, "Authorization", "Bearer "+bearer); r.status != 200 || r.json(t)["active"] != true {
		t.Fatalf("bearer introspection: %s", r)
	}
	// client_secret_post works too.
	if r := srv.post("/oauth2/introspect", url.Values{"token": {tok}, "client_id": {introspector.id}, "client_secret": {introspector.secret}}); r.status != 200 {
		t.Fatalf("post introspection: %s", r)
	}

	// Who may not ask.
	denied := []struct {
		name   string
		header []string
		status int
		code   string
		auth   string
	}{
		{"client without tokens:introspect", []string{"Authorization", basicAuth(holder)}, 403, "insufficient_scope", `Bearer realm="agentidp", error="insufficient_scope", scope="tokens:introspect"`},
		{"bearer without tokens:introspect", []string{"Authorization", "Bearer " + tok}, 403, "insufficient_scope", `Bearer realm="agentidp", error="insufficient_scope", scope="tokens:introspect"`},
		{"garbage bearer", []string{"Authorization", "Bearer nope"}, 401, "invalid_token", `Bearer realm="agentidp", error="invalid_token"`},
		{"wrong secret", []string{"Authorization", basicAuth(client{id: introspector.id, secret: "x"})}, 401, "invalid_client", `Basic realm="agentidp", charset="UTF-8"`},
		{"nobody", nil, 401, "invalid_client", `Basic realm="agentidp", charset="UTF-8"`},
	}
	for _, d := range denied {
		r := introspect(tok, d.header...)
		if r.status != d.status || r.json(t)["error"] != d.code || r.header.Get("WWW-Authenticate") != d.auth {
			t.Errorf("%s: %s, WWW-Authenticate %q", d.name, r, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := srv.post("/oauth2/introspect", url.Values{}, "Authorization", basicAuth(introspector)); r.status != 400 || r.json(t)["error"] != "invalid_request" {
		t.Errorf("missing token: %s", r)
	}
	// Inactive: garbage, and (below) revoked.
	if r := introspect("not-a-token", "Authorization", basicAuth(introspector)); r.status != 200 || string(r.body) != "{\"active\":false}\n" {
		t.Fatalf("garbage token: %s", r)
	}

	// Revocation: someone else's token is refused, unknown tokens are fine,
	// own token is revoked and introspection sees it at once.
	revoke := func(c client, token string) response {
		return srv.post("/oauth2/revoke", url.Values{"token": {token}, "token_type_hint": {"access_token"}}, "Authorization", basicAuth(c))
	}
	if r := revoke(introspector, tok); r.status != 400 || r.json(t)["error"] != "unauthorized_client" {
		t.Fatalf("revoking another client's token: %s", r)
	}
	if r := revoke(holder, "garbage"); r.status != 200 {
		t.Fatalf("revoking garbage: %s", r)
	}
	if r := revoke(client{id: holder.id, secret: "wrong"}, tok); r.status != 401 {
		t.Fatalf("revoking with a wrong secret: %s", r)
	}
	if r := revoke(holder, tok); r.status != 200 {
		t.Fatalf("revoke: %s", r)
	}
	if r := introspect(tok, "Authorization", basicAuth(introspector)); r.json(t)["active"] != false {
		t.Fatalf("revoked token still active: %s", r)
	}
	if r := revoke(holder, tok); r.status != 200 {
		t.Fatalf("revoking twice: %s", r)
	}
	if r := srv.do(http.MethodGet, "/oauth2/revoke", ""); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET revoke: %s", r)
	}

	// A suspended agent's tokens are inactive.
	tok2 := srv.mustToken(holder, "")
	p.setStatus(holderAgent, "suspended")
	eventually(t, 2*time.Second, func() error {
		if r := introspect(tok2, "Authorization", basicAuth(introspector)); r.json(t)["active"] != false {
			return errorf("still active: %s", r)
		}
		return nil
	})
	p.setStatus(holderAgent, "active")
}
