package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2/clientcredentials"
)

// TestPlatform runs the scenarios that can share one platform (registry,
// credentials, Vault, Redis) and one token service, to keep the suite fast.
func TestPlatform(t *testing.T) {
	p := startPlatform(t)
	srv := startToken(t, p.env())
	t.Run("ThirdPartyClient", func(t *testing.T) { testThirdPartyClient(t, p, srv) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, p, srv) })
	t.Run("IntrospectAndRevoke", func(t *testing.T) { testIntrospectAndRevoke(t, p, srv) })
	t.Run("KillSwitch", func(t *testing.T) { testKillSwitch(t, p, srv) })
	t.Run("Replicas", func(t *testing.T) { testReplicas(t, p, srv) })
	t.Run("RateLimit", func(t *testing.T) { testRateLimit(t, p) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, p, srv) })
}

// testThirdPartyClient: an unmodified golang.org/x/oauth2 client gets a
// token knowing only the issuer (RFC 8414 discovery), and a different JOSE
// library (lestrrat-go/jwx) verifies it against the JWKS.
func testThirdPartyClient(t *testing.T, p *platform, srv *tokenServer) {
	agentID := p.agent("agents:read", "tokens:introspect")
	c := p.credential(agentID, 0)
	ctx := context.Background()

	// Discovery from the issuer alone.
	var meta struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		JWKSURI       string   `json:"jwks_uri"`
		Grants        []string `json:"grant_types_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		Introspection string   `json:"introspection_endpoint"`
		Revocation    string   `json:"revocation_endpoint"`
	}
	resp, err := http.Get(srv.base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if meta.Issuer != srv.base || meta.TokenEndpoint != srv.base+"/oauth2/token" || meta.JWKSURI != srv.base+"/.well-known/jwks.json" ||
		meta.Introspection == "" || meta.Revocation == "" || len(meta.Grants) != 1 || meta.Grants[0] != "client_credentials" {
		t.Fatalf("metadata %+v", meta)
	}

	// Both client authentication methods x/oauth2 knows.
	for _, style := range []struct {
		name  string
		style int
	}{{"basic", 2}, {"post", 1}} {
		t.Run(style.name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: meta.TokenEndpoint,
				Scopes: []string{"agents:read"}}
			cc.AuthStyle = authStyle(style.style)
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(14*time.Minute)) {
				t.Fatalf("token %+v", tok)
			}
			if got := tok.Extra("scope"); got != "agents:read" {
				t.Fatalf("scope %v", got)
			}

			// Verify with jwx against the JWKS the metadata names.
			set, err := jwk.Fetch(ctx, meta.JWKSURI)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(meta.Issuer),
				jwt.WithAudience("agentidp"), jwt.WithValidate(true))
			if err != nil {
				t.Fatalf("jwx rejects the token: %v", err)
			}
			sub, _ := parsed.Subject()
			if sub != agentID {
				t.Fatalf("sub %q", sub)
			}
			var clientID, scope string
			if err := parsed.Get("client_id", &clientID); err != nil || clientID != c.id {
				t.Fatalf("client_id %q %v", clientID, err)
			}
			if err := parsed.Get("scope", &scope); err != nil || scope != "agents:read" {
				t.Fatalf("scope %q %v", scope, err)
			}
			if jti, ok := parsed.JwtID(); !ok || jti == "" {
				t.Fatal("no jti")
			}
			msg, err := jws.Parse([]byte(tok.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			typ, _ := h.Type()
			alg, _ := h.Algorithm()
			kid, _ := h.KeyID()
			if typ != "at+jwt" || alg.String() != "ES256" || kid == "" {
				t.Fatalf("header typ=%q alg=%v kid=%q", typ, alg, kid)
			}
		})
	}

	// Omitted scope: all of the agent's scopes. Cache-Control: no-store.
	r := srv.token(c, "")
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("%s %v", r, r.header)
	}
	if got := r.json(t)["scope"]; got != "agents:read tokens:introspect" {
		t.Fatalf("scope %v", got)
	}
	// JWKS is cacheable.
	j := srv.do("GET", "/.well-known/jwks.json", "")
	if cc := j.header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") || j.header.Get("ETag") == "" {
		t.Fatalf("jwks headers %v", j.header)
	}
	if nm := srv.do("GET", "/.well-known/jwks.json", "", "If-None-Match", j.header.Get("ETag")); nm.status != http.StatusNotModified {
		t.Fatalf("conditional JWKS: %d", nm.status)
	}
	if srv.metric("agentidp_tokens_issued_total", "outcome", "issued") < 3 {
		t.Fatal("issued tokens not counted")
	}
}

// testErrors: every client mistake gets its RFC 6749 error and status,
// never a 5xx, and an unknown client reads exactly like a wrong secret.
func testErrors(t *testing.T, p *platform, srv *tokenServer) {
	good := p.credential(p.agent("agents:read"), 0)
	revoked := p.credential(p.agent("agents:read"), 0)
	p.revokeCredential(revoked)
	expiring := p.credential(p.agent("agents:read"), time.Second)
	suspendedAgent := p.agent("agents:read")
	suspended := p.credential(suspendedAgent, 0)
	p.setStatus(suspendedAgent, "suspended")
	time.Sleep(1100 * time.Millisecond) // the expiring credential expires

	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	cc := "client_credentials"
	unknownID := "0190c6e8-0000-7000-8000-0000000000ff"
	tests := []struct {
		name   string
		form   url.Values
		header []string
		raw    string // instead of form
		ctype  string
		status int
		code   string
		basic  bool // expects WWW-Authenticate: Basic
	}{
		{name: "wrong secret (post)", form: form("grant_type", cc, "client_id", good.id, "client_secret", good.secret+"x"), status: 401, code: "invalid_client", basic: true},
		{name: "wrong secret (basic)", form: form("grant_type", cc), header: []string{"Authorization", basic(good.id, "agentidp_sk_nope")}, status: 401, code: "invalid_client", basic: true},
		{name: "unknown client", form: form("grant_type", cc, "client_id", unknownID, "client_secret", good.secret), status: 401, code: "invalid_client", basic: true},
		{name: "revoked credential", form: form("grant_type", cc, "client_id", revoked.id, "client_secret", revoked.secret), status: 401, code: "invalid_client", basic: true},
		{name: "expired credential", form: form("grant_type", cc, "client_id", expiring.id, "client_secret", expiring.secret), status: 401, code: "invalid_client", basic: true},
		{name: "suspended agent", form: form("grant_type", cc, "client_id", suspended.id, "client_secret", suspended.secret), status: 400, code: "unauthorized_client"},
		{name: "scope beyond the agent's", form: form("grant_type", cc, "client_id", good.id, "client_secret", good.secret, "scope", "agents:read agents:write"), status: 400, code: "invalid_scope"},
		{name: "malformed scope", form: form("grant_type", cc, "client_id", good.id, "client_secret", good.secret, "scope", `a"b`), status: 400, code: "invalid_scope"},
		{name: "bad grant type", form: form("grant_type", "password", "client_id", good.id, "client_secret", good.secret), status: 400, code: "unsupported_grant_type"},
		{name: "missing grant type", form: form("client_id", good.id, "client_secret", good.secret), status: 400, code: "invalid_request"},
		{name: "no client authentication", form: form("grant_type", cc), status: 401, code: "invalid_client", basic: true},
		{name: "client_id without secret", form: form("grant_type", cc, "client_id", good.id), status: 401, code: "invalid_client", basic: true},
		{name: "malformed basic (not base64)", form: form("grant_type", cc), header: []string{"Authorization", "Basic %%%"}, status: 401, code: "invalid_client", basic: true},
		{name: "malformed basic (no colon)", form: form("grant_type", cc), header: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(good.id))}, status: 401, code: "invalid_client", basic: true},
		{name: "unsupported auth scheme", form: form("grant_type", cc), header: []string{"Authorization", "Bearer x"}, status: 401, code: "invalid_client", basic: true},
		{name: "two authentication methods", form: form("grant_type", cc, "client_secret", good.secret), header: []string{"Authorization", basic(good.id, good.secret)}, status: 400, code: "invalid_request"},
		{name: "repeated parameter", raw: "grant_type=client_credentials&grant_type=client_credentials&client_id=" + good.id + "&client_secret=" + url.QueryEscape(good.secret), status: 400, code: "invalid_request"},
		{name: "not form encoded", raw: `{"grant_type":"client_credentials"}`, ctype: "application/json", status: 400, code: "invalid_request"},
	}
	var unknown, wrong response
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if body == "" {
				body = tt.form.Encode()
			}
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			r := srv.do("POST", "/oauth2/token", body, append([]string{"Content-Type", ctype}, tt.header...)...)
			if r.status != tt.status {
				t.Fatalf("status %s, want %d", r, tt.status)
			}
			m := r.json(t)
			if m["error"] != tt.code {
				t.Fatalf("error %v, want %s", m["error"], tt.code)
			}
			if _, ok := m["access_token"]; ok {
				t.Fatal("an error carried a token")
			}
			if got := r.header.Get("WWW-Authenticate"); tt.basic != strings.HasPrefix(got, "Basic realm=") {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Fatal("no Cache-Control: no-store")
			}
			switch tt.name {
			case "unknown client":
				unknown = r
			case "wrong secret (post)":
				wrong = r
			}
		})
	}
	if string(unknown.body) != string(wrong.body) || unknown.status != wrong.status ||
		unknown.header.Get("WWW-Authenticate") != wrong.header.Get("WWW-Authenticate") {
		t.Fatalf("unknown client and wrong secret differ:\n%s\n%s", unknown, wrong)
	}
	if r := srv.do("GET", "/oauth2/token", ""); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET /oauth2/token: %s", r)
	}
	if srv.metric("agentidp_tokens_issued_total", "outcome", "invalid_client") < 5 {
		t.Fatal("invalid_client outcomes not counted")
	}
}
