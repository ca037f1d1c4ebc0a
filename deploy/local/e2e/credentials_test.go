package e2e

import (
	"net/http"
	"strings"
	"testing"
)

func TestCredentialsThroughTheGateway(t *testing.T) {
	skipShort(t)
	agent := register(t, newAgent("credential-holder"))
	id := agent["agentId"].(string)
	base := "/v1/agents/" + id + "/credentials"

	r := call(t, "POST", base, map[string]any{"ttlSeconds": 3600})
	expect(t, r, http.StatusCreated)
	issued := r.JSON(t)
	secret, _ := issued["clientSecret"].(string)
	cred, _ := issued["credential"].(map[string]any)
	if !strings.HasPrefix(secret, "agentidp_sk_") || issued["clientId"] != id || cred == nil || cred["expiresAt"] == nil {
		t.Fatalf("issued credential: %s", r.Body)
	}
	credID := cred["credentialId"].(string)

	// Listing never shows the secret.
	r = call(t, "GET", base, nil)
	expect(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "clientSecret") {
		t.Fatalf("list leaks a secret: %s", r.Body)
	}
	if creds, _ := r.JSON(t)["credentials"].([]any); len(creds) != 1 {
		t.Fatalf("list: %s", r.Body)
	}

	r = call(t, "POST", base+"/"+credID+":rotate", map[string]any{"gracePeriodSeconds": 60})
	expect(t, r, http.StatusOK)
	rotated := r.JSON(t)
	if s, _ := rotated["clientSecret"].(string); s == "" || s == secret {
		t.Fatalf("rotate: %s", r.Body)
	}

	r = call(t, "DELETE", base+"/"+credID, nil)
	expect(t, r, http.StatusOK)
	if r.JSON(t)["status"] != "revoked" {
		t.Fatalf("revoke: %s", r.Body)
	}
	expect(t, call(t, "DELETE", base+"/"+credID, nil), http.StatusOK) // idempotent

	tests := []struct {
		name, method, path string
		body               any
		status             int
		reason             string
	}{
		{"unknown agent", "POST", "/v1/agents/0190f8a0-0000-7000-8000-000000000000/credentials", map[string]any{}, 404, "AGENT_NOT_FOUND"},
		{"negative ttl", "POST", base, map[string]any{"ttlSeconds": -5}, 400, "FIELD_INVALID"},
		{"grace over the bound", "POST", base + "/" + credID + ":rotate", map[string]any{"gracePeriodSeconds": 10_000_000}, 400, ""},
		{"malformed credential id", "DELETE", base + "/not-an-id", nil, 400, "FIELD_INVALID"},
		{"unknown credential", "DELETE", base + "/0190f8a0-0000-7000-8000-000000000000", nil, 404, "CREDENTIAL_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.reason != "" && r.reason(t) != tt.reason {
				t.Fatalf("reason: %s", r.Body)
			}
		})
	}

	// A suspended agent gets no new credential.
	expect(t, call(t, "PATCH", "/v1/agents/"+id+"?updateMask=status", map[string]any{"status": "suspended"}), http.StatusOK)
	r = call(t, "POST", base, map[string]any{})
	if r.Status != http.StatusBadRequest || r.reason(t) != "AGENT_NOT_ACTIVE" {
		t.Fatalf("credential for a suspended agent: %d %s", r.Status, r.Body)
	}
}
