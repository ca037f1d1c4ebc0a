package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// agentClient is an agent with a credential and a token.
type agentClient struct {
	id, secret, credentialID, token string
}

// newAgentClient registers an agent with scopes (as the admin), gives it a
// credential and gets it a token.
func newAgentClient(t *testing.T, scopes ...string) agentClient {
	t.Helper()
	body := newAgent("authz-client")
	body["scopes"] = scopes
	id := register(t, body)["agentId"].(string)
	r := call(t, "POST", "/v1/agents/"+id+"/credentials", map[string]any{})
	expect(t, r, http.StatusCreated)
	c := agentClient{id: id, secret: r.JSON(t)["clientSecret"].(string)}
	c.credentialID = r.JSON(t)["credential"].(map[string]any)["credentialId"].(string)
	tok, err := fetchToken(c.id, c.secret, "")
	if err != nil {
		t.Fatal(err)
	}
	c.token = tok
	return c
}

func (c agentClient) newToken(t *testing.T) string {
	t.Helper()
	tok, err := fetchToken(c.id, c.secret, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// revoke revokes one of the client's tokens (RFC 7009) through the gateway.
func (c agentClient) revoke(t *testing.T, tok string) {
	t.Helper()
	req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

var publicScopes = []string{"agents:read", "agents:write", "credentials:write", "audit:read"}

func without(all []string, s string) []string {
	var out []string
	for _, x := range all {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// checkWWWAuthenticate asserts the RFC 6750 challenge of a 401 or 403.
func checkWWWAuthenticate(t *testing.T, r response, errCode, scope string) {
	t.Helper()
	h := r.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(h, `Bearer realm="agentidp"`) {
		t.Fatalf("WWW-Authenticate %q", h)
	}
	if errCode != "" && !strings.Contains(h, `error="`+errCode+`"`) {
		t.Fatalf("WWW-Authenticate %q lacks error=%q", h, errCode)
	}
	if errCode == "" && strings.Contains(h, "error=") {
		t.Fatalf("WWW-Authenticate %q: no error code without a token (RFC 6750 §3.1)", h)
	}
	if scope != "" && !strings.Contains(h, `scope="`+scope+`"`) {
		t.Fatalf("WWW-Authenticate %q lacks scope=%q", h, scope)
	}
}

// TestRouteTokenMatrix sends every route of the public API with every kind
// of token through the real Envoy and authz services and checks the
// documented answer (docs/authz.md, "Answers").
func TestRouteTokenMatrix(t *testing.T) {
	skipShort(t)
	right, missing := map[string]agentClient{}, map[string]agentClient{}
	for _, s := range publicScopes {
		right[s] = newAgentClient(t, s)
		missing[s] = newAgentClient(t, without(publicScopes, s)...)
	}
	// Resources the routes act on: agents holding no scope, so that holding
	// a route's scope is enough to act on them (no escalation).
	powerless := func(name string) map[string]any {
		a := newAgent(name)
		a["scopes"] = []string{}
		return a
	}
	target := register(t, powerless("matrix-target"))["agentId"].(string)
	doomed := register(t, powerless("matrix-doomed"))["agentId"].(string)
	r := call(t, "POST", "/v1/agents/"+target+"/credentials", map[string]any{})
	expect(t, r, http.StatusCreated)
	cred := r.JSON(t)["credential"].(map[string]any)["credentialId"].(string)
	var eventID string
	eventually(t, 10*time.Second, func() error {
		r := call(t, "GET", "/v1/audit/events?agentId="+target, nil)
		events, _ := r.JSON(t)["events"].([]any)
		if len(events) == 0 {
			return fmt.Errorf("no audit event for %s yet", target)
		}
		eventID = events[0].(map[string]any)["eventId"].(string)
		return nil
	})

	routes := []struct {
		method, path, scope string
		body                any
		ok                  int
	}{
		{"POST", "/v1/agents", "agents:write", map[string]any{"name": "m", "owner": "team-e2e", "scopes": []string{}}, 201},
		{"GET", "/v1/agents?pageSize=1", "agents:read", nil, 200},
		{"GET", "/v1/agents/" + target, "agents:read", nil, 200},
		{"PATCH", "/v1/agents/" + target + "?updateMask=description", "agents:write", map[string]any{"description": "d"}, 200},
		{"DELETE", "/v1/agents/" + doomed, "agents:write", nil, 200},
		{"POST", "/v1/agents/" + target + "/credentials", "credentials:write", map[string]any{}, 201},
		{"GET", "/v1/agents/" + target + "/credentials", "agents:read", nil, 200},
		{"POST", "/v1/agents/" + target + "/credentials/" + cred + ":rotate", "credentials:write", map[string]any{}, 200},
		{"DELETE", "/v1/agents/" + target + "/credentials/" + cred, "credentials:write", nil, 200},
		{"GET", "/v1/audit/events?pageSize=1", "audit:read", nil, 200},
		{"GET", "/v1/audit/events/" + eventID, "audit:read", nil, 200},
		{"GET", "/v1/audit/verify", "platform:admin", nil, 200}, // and audit:read: both scopes, below
		{"GET", "/v1/audit/checkpoints", "platform:admin", nil, 200},
	}

	signer, err := testkit.ReadTokenSigner(context.Background(), mesh.VaultAddr(), mesh.VaultToken())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	crafted := func(c agentClient, scope string, over map[string]any) string {
		claims := map[string]any{"iss": mesh.GatewayURL(), "sub": c.id, "aud": "agentidp", "exp": now + 600,
			"iat": now - 5, "jti": fmt.Sprintf("matrix-%d", time.Now().UnixNano()), "client_id": c.id,
			"scope": scope, "credential_id": c.credentialID}
		for k, v := range over {
			claims[k] = v
		}
		return signer.Sign(nil, claims)
	}
	badSignature := func(tok string) string {
		i := strings.LastIndexByte(tok, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
		sig[3] ^= 0x55
		return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	algNone := func(tok string) string {
		parts := strings.Split(tok, ".")
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
	}
	revoked := map[string]string{}
	for s, c := range right {
		tok := c.newToken(t)
		c.revoke(t, tok)
		revoked[s] = tok
	}

	// GET /v1/audit/verify and /v1/audit/checkpoints need two scopes: their
	// "right" client holds both, their "missing" one audit:read alone.
	right["platform:admin"] = newAgentClient(t, "audit:read", "platform:admin")
	missing["platform:admin"] = newAgentClient(t, "audit:read", "agents:read")
	revoked["platform:admin"] = func() string {
		tok := right["platform:admin"].newToken(t)
		right["platform:admin"].revoke(t, tok)
		return tok
	}()
	for _, rt := range routes {
		c := right[rt.scope]
		tokens := []struct {
			kind, token string
			status      int
			reason, www string
		}{
			{"no token", "", 401, "UNAUTHENTICATED", ""},
			{"garbage", "not.a.jwt", 401, "INVALID_TOKEN", "invalid_token"},
			{"expired", crafted(c, rt.scope, map[string]any{"exp": now - 120, "iat": now - 1000}), 401, "INVALID_TOKEN", "invalid_token"},
			{"wrong issuer", crafted(c, rt.scope, map[string]any{"iss": "https://idp.example"}), 401, "INVALID_TOKEN", "invalid_token"},
			{"wrong audience", crafted(c, rt.scope, map[string]any{"aud": "billing"}), 401, "INVALID_TOKEN", "invalid_token"},
			{"bad signature", badSignature(c.token), 401, "INVALID_TOKEN", "invalid_token"},
			{"alg none", algNone(c.token), 401, "INVALID_TOKEN", "invalid_token"},
			{"revoked", revoked[rt.scope], 401, "TOKEN_REVOKED", "invalid_token"},
			{"missing scope", missing[rt.scope].token, 403, "INSUFFICIENT_SCOPE", "insufficient_scope"},
			{"right scope", c.token, rt.ok, "", ""},
		}
		for _, tk := range tokens {
			t.Run(rt.method+" "+rt.path+"/"+tk.kind, func(t *testing.T) {
				r := callAs(t, tk.token, rt.method, rt.path, rt.body)
				if r.Status != tk.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tk.status, r.Body)
				}
				if tk.reason == "" {
					return
				}
				if got := r.reason(t); got != tk.reason {
					t.Fatalf("reason %s, want %s: %s", got, tk.reason, r.Body)
				}
				scope := ""
				if tk.status == 403 {
					scope = rt.scope
					if rt.scope == "platform:admin" {
						scope = "audit:read platform:admin"
					}
				}
				checkWWWAuthenticate(t, r, tk.www, scope)
			})
		}
	}
}

// TestUpstreamSeesIdentityFromAuthzOnly: a client's own X-Agent-Id never
// reaches a service; the audit log records the caller authz established.
func TestUpstreamSeesIdentityFromAuthzOnly(t *testing.T) {
	skipShort(t)
	forger := newAgentClient(t, "agents:read", "agents:write")
	r := callAs(t, forger.token, "POST", "/v1/agents", newAgent("forged-actor"),
		"X-Agent-Id", admin.ClientID, "X-Agent-Scopes", "audit:read", "X-Request-Id", "chosen-by-client")
	expect(t, r, http.StatusCreated)
	id := r.JSON(t)["agentId"].(string)
	if rid := r.Header.Get("X-Request-Id"); rid == "" || rid == "chosen-by-client" {
		t.Fatalf("x-request-id %q: the gateway issues its own", rid)
	}
	eventually(t, 10*time.Second, func() error {
		r := call(t, "GET", "/v1/audit/events?agentId="+id, nil)
		events, _ := r.JSON(t)["events"].([]any)
		for _, e := range events {
			ev := e.(map[string]any)
			if ev["action"] == "agent.registered" {
				if ev["actor"] != forger.id {
					t.Fatalf("the registry recorded actor %v, want the token's agent %s", ev["actor"], forger.id)
				}
				return nil
			}
		}
		return fmt.Errorf("no agent.registered event yet")
	})
}

var auditCalls = regexp.MustCompile(`agentidp_grpc_server_handled_total\{grpc_code="[A-Za-z]+",grpc_method="(ListAuditEvents|VerifyAuditChain|GetAuditEvent)",grpc_service="agentidp.audit.v1.AuditService"\} (\d+)`)

// auditServed counts the audit service's answered queries.
func auditServed(t *testing.T) int {
	t.Helper()
	n := 0
	for _, r := range mesh.Replicas("audit") {
		resp, err := http.Get("http://" + r.AdminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range auditCalls.FindAllSubmatch(b, -1) {
			v, _ := strconv.Atoi(string(m[2]))
			n += v
		}
	}
	return n
}

// TestHostilePaths: no spelling of a path, escape, method override or case
// gets a caller past the policy. The caller holds agents:read and
// agents:write but not audit:read; the audit service must never be reached.
func TestHostilePaths(t *testing.T) {
	skipShort(t)
	c := newAgentClient(t, "agents:read", "agents:write")
	victim := register(t, newAgent("override-victim"))["agentId"].(string)
	before := auditServed(t)
	tests := []struct {
		name, method, path string
		header             []string
		status             int
	}{
		{"double slash", "GET", "//v1/audit/events", nil, 403},
		{"dot-dot", "GET", "/v1/agents/../audit/events", nil, 403},
		{"encoded dot-dot", "GET", "/v1/agents/%2e%2e/audit/events", nil, 403},
		{"upper-case encoded dot-dot", "GET", "/v1/agents/%2E%2E/audit/events", nil, 403},
		{"encoded slashes", "GET", "/v1/agents%2F..%2Faudit%2Fevents", nil, 400},
		{"encoded slash in an id", "GET", "/v1/audit/events/x%2F..%2F..", nil, 400},
		{"upper case", "GET", "/V1/AUDIT/EVENTS", nil, 404},
		{"mixed case", "GET", "/v1/Audit/Events", nil, 404},
		{"path parameter", "GET", "/v1/audit/events;jsessionid=1", nil, 404},
		{"path parameter on an id", "GET", "/v1/audit/events/abc;x=1", nil, 400},
		{"trailing dot", "GET", "/v1/audit/events.", nil, 404},
		{"trailing dot segment", "GET", "/v1/audit/events/.", nil, 404},
		{"trailing slash", "GET", "/v1/audit/events/", nil, 404},
		{"token in the query string", "GET", "/v1/audit/events?access_token=" + adminToken, []string{"Authorization", ""}, 401},
		{"method override to DELETE", "POST", "/v1/agents/" + victim, []string{"X-HTTP-Method-Override", "DELETE"}, 400},
		{"method override header variant", "GET", "/v1/agents/" + victim, []string{"X-HTTP-Method", "DELETE"}, 400},
		{"own status, upper-case id", "PATCH", "/v1/agents/" + strings.ToUpper(c.id) + "?updateMask=status", nil, 403},
		{"own status, percent-encoded id", "PATCH", "/v1/agents/%" + fmt.Sprintf("%02x", c.id[0]) + c.id[1:] + "?updateMask=status", nil, 403},
		{"own scopes, mask in snake case", "PATCH", "/v1/agents/" + c.id + "?update_mask=scopes", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "PATCH" {
				body = map[string]any{"status": "suspended", "scopes": []string{"audit:read"}}
			}
			header := tt.header
			auth := true
			for i := 0; i+1 < len(header); i += 2 {
				if header[i] == "Authorization" {
					auth = false
				}
			}
			if auth {
				header = append([]string{"Authorization", "Bearer " + c.token}, header...)
			}
			r := send(t, tt.method, tt.path, body, header...)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
		})
	}
	if n := auditServed(t) - before; n != 0 {
		t.Fatalf("the audit service answered %d of these requests", n)
	}
	r := call(t, "GET", "/v1/agents/"+victim, nil)
	expect(t, r, http.StatusOK)
	if r.JSON(t)["status"] != "active" {
		t.Fatalf("the override victim is %v", r.JSON(t)["status"])
	}
	r = call(t, "GET", "/v1/agents/"+c.id, nil)
	if r.JSON(t)["status"] != "active" || len(r.JSON(t)["scopes"].([]any)) != 2 {
		t.Fatalf("the caller changed itself: %s", r.Body)
	}
}
