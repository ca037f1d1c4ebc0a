package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"
)

// newClient registers an agent with the given scopes and a credential for it.
func newClient(t *testing.T, scopes ...string) (clientID, secret string) {
	t.Helper()
	body := newAgent("token-client")
	body["scopes"] = scopes
	id := register(t, body)["agentId"].(string)
	r := call(t, "POST", "/v1/agents/"+id+"/credentials", map[string]any{})
	expect(t, r, http.StatusCreated)
	return id, r.JSON(t)["clientSecret"].(string)
}

// discover reads the RFC 8414 metadata through the gateway.
func discover(t *testing.T) map[string]any {
	t.Helper()
	r := call(t, "GET", "/.well-known/oauth-authorization-server", nil)
	expect(t, r, http.StatusOK)
	return r.JSON(t)
}

// An unmodified third-party client gets a token through the gateway using
// only the published metadata, and a third-party JOSE library verifies it
// against the published JWKS.
func TestThirdPartyClientGetsAVerifiableToken(t *testing.T) {
	skipShort(t)
	clientID, secret := newClient(t, "agents:read", "audit:read")
	meta := discover(t)
	tokenURL, _ := meta["token_endpoint"].(string)
	jwksURL, _ := meta["jwks_uri"].(string)
	if !strings.HasPrefix(tokenURL, mesh.GatewayURL()) || !strings.HasPrefix(jwksURL, mesh.GatewayURL()) {
		t.Fatalf("metadata does not point at the gateway: %v", meta)
	}
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, Scopes: []string{"agents:read"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := parsed.Headers[0].ExtraHeaders["typ"].(string); typ != "at+jwt" {
		t.Fatalf("typ = %q", typ)
	}
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) == 0 {
		t.Fatalf("kid %q not in the JWKS", parsed.Headers[0].KeyID)
	}
	var claims jwt.Claims
	var extra struct {
		Scope    string `json:"scope"`
		ClientID string `json:"client_id"`
	}
	if err := parsed.Claims(keys[0].Key, &claims, &extra); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if claims.Subject != clientID || extra.ClientID != clientID || extra.Scope != "agents:read" ||
		claims.Issuer != meta["issuer"] {
		t.Fatalf("claims %+v %+v", claims, extra)
	}
}

func TestTokenErrorsThroughTheGateway(t *testing.T) {
	skipShort(t)
	clientID, secret := newClient(t, "agents:read")
	form := func(v url.Values, user, pass string) (int, http.Header, map[string]any) {
		req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, resp.Header, m
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name       string
		values     url.Values
		user, pass string
		status     int
		errCode    string
	}{
		{"wrong secret", cc, clientID, secret + "x", 401, "invalid_client"},
		{"unknown client", cc, "0190f8a0-0000-7000-8000-000000000000", secret, 401, "invalid_client"},
		{"scope beyond the agent's", url.Values{"grant_type": {"client_credentials"}, "scope": {"agents:write"}}, clientID, secret, 400, "invalid_scope"},
		{"wrong grant type", url.Values{"grant_type": {"password"}}, clientID, secret, 400, "unsupported_grant_type"},
		{"no grant type", url.Values{}, clientID, secret, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := form(tt.values, tt.user, tt.pass)
			if status != tt.status || body["error"] != tt.errCode {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.errCode)
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without WWW-Authenticate: %v", hdr)
			}
		})
	}
	status, hdr, body := form(cc, clientID, secret)
	if status != 200 || body["token_type"] != "Bearer" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("good request: %d %v %v", status, body, hdr)
	}
}

// issueToken asks the gateway for a token with client_secret_basic and
// checks the status.
func issueToken(t *testing.T, clientID, secret string, status int) string {
	t.Helper()
	req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("token: %d, want %d: %s", resp.StatusCode, status, b)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &body)
	return body.AccessToken
}
