package app_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestCheck drives one authz server with real tokens from the real token
// service: authentication failures of every kind, scopes, the attribute
// rules that need the body, the headers sent upstream, and the audit
// record of a denial.
func TestCheck(t *testing.T) {
	p := startPlatform(t)
	a := p.startAuthz(t, nil)
	reader := p.agent("agents:read")
	readTok := p.token(reader, "")
	writer := p.agent("agents:read", "agents:write")
	writeTok := p.token(writer, "")
	signer := testkit.TokenSignerFromVault(t, p.vault.Addr(), p.vault.RootToken)
	now := time.Now().Unix()
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": issuer, "sub": reader.id, "aud": "agentidp", "exp": now + 600, "iat": now - 5,
			"jti": fmt.Sprintf("crafted-%d", time.Now().UnixNano()), "client_id": reader.id, "scope": "agents:read",
			"credential_id": reader.credentialID}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tamper := func(tok string) string {
		i := strings.LastIndexByte(tok, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
		sig[5] ^= 0xff
		return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	unsigned := func(header string, c map[string]any) string {
		tok := signer.Sign(nil, c)
		parts := strings.Split(tok, ".")
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "."
	}

	t.Run("crafted token with the right claims verifies", func(t *testing.T) {
		if r := a.call("GET", "/v1/agents", "", bearer(signer.Sign(nil, claims(nil)))...); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})

	invalid := []struct{ name, token string }{
		{"garbage", "not-a-jwt"},
		{"three garbage segments", "a.b.c"},
		{"expired", signer.Sign(nil, claims(map[string]any{"exp": now - 120, "iat": now - 1000}))},
		{"wrong issuer", signer.Sign(nil, claims(map[string]any{"iss": "https://evil.example"}))},
		{"wrong audience", signer.Sign(nil, claims(map[string]any{"aud": []string{"someone-else"}}))},
		{"no audience", signer.Sign(nil, claims(map[string]any{"aud": nil}))},
		{"not yet valid", signer.Sign(nil, claims(map[string]any{"nbf": now + 600}))},
		{"issued in the future", signer.Sign(nil, claims(map[string]any{"iat": now + 600}))},
		{"no jti", signer.Sign(nil, claims(map[string]any{"jti": nil}))},
		{"typ JWT", signer.Sign(map[string]any{"typ": "JWT"}, claims(nil))},
		{"no typ", signer.Sign(map[string]any{"typ": nil}, claims(nil))},
		{"critical extension", signer.Sign(map[string]any{"crit": []string{"exp"}}, claims(nil))},
		{"unknown kid", signer.Sign(map[string]any{"kid": "nope"}, claims(nil))},
		{"bad signature", tamper(readTok)},
		{"alg none", unsigned(`{"alg":"none","typ":"at+jwt","kid":"`+signer.KID+`"}`, claims(nil))},
		{"alg HS256", unsigned(`{"alg":"HS256","typ":"at+jwt","kid":"`+signer.KID+`"}`, claims(nil)) + "c2ln"},
		{"alg swapped to EdDSA", func() string {
			tok := signer.Sign(map[string]any{"alg": "EdDSA"}, claims(nil))
			return tok
		}()},
	}
	for _, tc := range invalid {
		t.Run("invalid token: "+tc.name, func(t *testing.T) {
			r := a.call("GET", "/v1/agents", "", bearer(tc.token)...)
			if r.status != 401 || r.reason() != "INVALID_TOKEN" {
				t.Fatalf("status %d %s: %s", r.status, r.reason(), r.body)
			}
			if h := r.headers["www-authenticate"]; !strings.HasPrefix(h, `Bearer realm="agentidp", error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate %q", h)
			}
			if r.headers["content-type"] != "application/json" {
				t.Fatalf("content-type %q", r.headers["content-type"])
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		r := a.call("GET", "/v1/agents", "")
		if r.status != 401 || r.reason() != "UNAUTHENTICATED" || r.headers["www-authenticate"] != `Bearer realm="agentidp"` {
			t.Fatalf("%d %s %v", r.status, r.body, r.headers)
		}
		// Basic is not a bearer attempt: same answer.
		if r := a.call("GET", "/v1/agents", "", "authorization", "Basic Zm9vOmJhcg=="); r.reason() != "UNAUTHENTICATED" {
			t.Fatalf("basic: %s", r.body)
		}
		if r := a.call("GET", "/v1/agents", "", "authorization", "Bearer a, Bearer b"); r.reason() != "INVALID_TOKEN" {
			t.Fatalf("two tokens: %s", r.body)
		}
	})

	t.Run("right scope: allowed, identity sent upstream", func(t *testing.T) {
		r := a.call("GET", "/v1/agents?pageSize=5", "", bearer(readTok)...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if r.upstream["x-agent-id"] != reader.id || r.upstream["x-agent-scopes"] != "agents:read" || r.upstream["x-request-id"] != "req-test" {
			t.Fatalf("upstream headers %v", r.upstream)
		}
	})

	t.Run("missing scope: 403 naming it", func(t *testing.T) {
		r := a.call("GET", "/v1/audit/events", "", bearer(readTok)...)
		if r.status != 403 || r.reason() != "INSUFFICIENT_SCOPE" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		want := `Bearer realm="agentidp", error="insufficient_scope", scope="audit:read"`
		if !strings.HasPrefix(r.headers["www-authenticate"], want) {
			t.Fatalf("WWW-Authenticate %q", r.headers["www-authenticate"])
		}
	})

	t.Run("an agent reads itself without agents:read", func(t *testing.T) {
		self := p.agent("credentials:write")
		tok := p.token(self, "")
		if r := a.call("GET", "/v1/agents/"+self.id, "", bearer(tok)...); r.status != 200 {
			t.Fatalf("self: %d %s", r.status, r.body)
		}
		if r := a.call("GET", "/v1/agents/"+reader.id, "", bearer(tok)...); r.status != 403 {
			t.Fatalf("other: %d %s", r.status, r.body)
		}
	})

	t.Run("registering an agent with scopes the caller lacks", func(t *testing.T) {
		r := a.call("POST", "/v1/agents", `{"name":"x","scopes":["agents:read","audit:read"]}`, bearer(writeTok)...)
		if r.status != 403 || r.reason() != "POLICY_DENIED" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := a.call("POST", "/v1/agents", `{"name":"x","scopes":["agents:read"]}`, bearer(writeTok)...); r.status != 200 {
			t.Fatalf("within the caller's scopes: %d %s", r.status, r.body)
		}
		dup := `{"name":"x","scopes":["agents:read"],"scopes":["audit:read"]}`
		if r := a.call("POST", "/v1/agents", dup, bearer(writeTok)...); r.status != 400 {
			t.Fatalf("duplicate key: %d %s", r.status, r.body)
		}
		if r := a.call("POST", "/v1/agents", `{"name":"x"}`, append(bearer(writeTok), "content-length", "100000")...); r.status != 400 {
			t.Fatalf("body longer than what arrived: %d %s", r.status, r.body)
		}
	})

	t.Run("no agent changes its own status", func(t *testing.T) {
		r := a.call("PATCH", "/v1/agents/"+writer.id+"?updateMask=status", `{"status":"suspended"}`, bearer(writeTok)...)
		if r.status != 403 || r.reason() != "POLICY_DENIED" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("a denial is audited, without the token", func(t *testing.T) {
		a.call("GET", "/v1/audit/events", "", bearer(readTok)...)
		eventually(t, 5*time.Second, func() error {
			msgs, err := p.rdb.XRange(context.Background(), auditlog.DefaultStream, "-", "+").Result()
			if err != nil {
				return err
			}
			for _, m := range msgs {
				raw, _ := m.Values[auditlog.StreamField].(string)
				if strings.Contains(raw, readTok) {
					t.Fatal("the audit record carries the token")
				}
				if strings.Contains(raw, auditlog.ActionAuthzDenied) && strings.Contains(raw, reader.id) && strings.Contains(raw, "INSUFFICIENT_SCOPE") {
					return nil
				}
			}
			return fmt.Errorf("no authz.denied event among %d", len(msgs))
		})
	})

	t.Run("metrics", func(t *testing.T) {
		if a.metric("agentidp_authz_decisions_total", "result", "allow", "reason", "OK") == 0 ||
			a.metric("agentidp_authz_decisions_total", "result", "deny", "reason", "INVALID_TOKEN") == 0 ||
			a.metric("agentidp_authz_token_cache_total", "result", "hit") == 0 {
			t.Fatal("decisions not counted")
		}
		resp, err := http.Get("http://" + a.httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
}
