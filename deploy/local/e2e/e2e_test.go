// Package e2e drives the REST API through the real Envoy gateway, control
// plane, services, PostgreSQL and Redis, all started by deploy/local/stack
// on free ports, the way a user (or an SDK) would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

var (
	mesh   *stack.Stack
	client = &http.Client{Timeout: 10 * time.Second}
	// admin is the bootstrap admin (every scope); call sends its token
	// unless a test says otherwise.
	admin      stack.Admin
	adminToken string
)

func TestMain(m *testing.M) {
	os.Exit(stack.TestMain(m, stack.TestMainOptions{
		Name: "e2e",
		Configure: func(dir string, cfg *stack.Config) error {
			policies, err := policyCopy(dir)
			// Two token and two authz replicas behind Envoy: the kill switch
			// must hold on every one.
			cfg.TokenReplicas, cfg.AuthzReplicas = 2, 2
			// A copy the hot-reload test may edit, with rate limits raised:
			// the benchmarks drive one agent hard; the limiter has its own
			// test.
			cfg.PolicyDir = policies
			// The suite fails client authentication on purpose, from one
			// address (127.0.0.1), far beyond the failure limits:
			// TestHostileRateLimits runs a mesh with the defaults.
			cfg.ExtraEnv = map[string][]string{"token": {"RATE_LIMIT_PER_SECOND=1000000", "RATE_LIMIT_BURST=1000000",
				"AUTH_FAILURE_LIMIT_PER_SECOND=1000000", "AUTH_FAILURE_LIMIT_BURST=1000000",
				"SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND=1000000", "SOURCE_AUTH_FAILURE_LIMIT_BURST=1000000"}}
			return err
		},
		Ready: func(_ context.Context, s *stack.Stack, a stack.Admin) (err error) {
			mesh, admin = s, a
			adminToken, err = fetchToken(admin.ClientID, admin.ClientSecret, "")
			return err
		},
	}))
}

func skipShort(t *testing.T) {
	if mesh == nil {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r.Body)
	}
	return m
}

// reason returns the ErrorInfo reason of a google.rpc.Status body.
func (r response) reason(t *testing.T) string {
	t.Helper()
	details, _ := r.JSON(t)["details"].([]any)
	for _, d := range details {
		if m, ok := d.(map[string]any); ok && m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			return fmt.Sprint(m["reason"])
		}
	}
	t.Fatalf("no ErrorInfo in %s", r.Body)
	return ""
}

// call sends a request through the gateway as the bootstrap admin; a
// header "Authorization" (even empty) replaces its token.
func call(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Authorization") {
			return send(t, method, path, body, headers...)
		}
	}
	return send(t, method, path, body, append([]string{"Authorization", "Bearer " + adminToken}, headers...)...)
}

// callAs sends a request with a bearer token ("" sends none).
func callAs(t *testing.T, token, method, path string, body any, headers ...string) response {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	return send(t, method, path, body, append([]string{"Authorization", auth}, headers...)...)
}

func send(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, mesh.GatewayURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func expect(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

func newAgent(name string) map[string]any {
	return map[string]any{
		"name": name, "owner": "team-e2e", "agentType": "assistant", "version": "1.0.0",
		"scopes": []string{"agents:read"}, "capabilities": []string{"web.search"},
		"metadata": map[string]string{"team": "e2e"},
	}
}

func register(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	r := call(t, "POST", "/v1/agents", body)
	expect(t, r, http.StatusCreated)
	return r.JSON(t)
}

// policyCopy copies the repository's policies into dir/policies with every
// rate limit raised out of the way (TestPolicyHotReload lowers one).
func policyCopy(dir string) (string, error) {
	root, err := stack.FindRepoRoot()
	if err != nil {
		return "", err
	}
	src, dst := filepath.Join(root, "policies"), filepath.Join(dir, "policies")
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		return "", err
	}
	err = editScopes(dst, func(doc map[string]any) {
		limits := doc["rate_limits"].(map[string]any)
		for name := range limits {
			limits[name] = map[string]any{"per_second": 1000000, "burst": 1000000}
		}
	})
	return dst, err
}

// editScopes rewrites dir/data/scopes.json atomically (the authz services
// reload it within a second).
func editScopes(dir string, edit func(doc map[string]any)) error {
	path := filepath.Join(dir, "data", "scopes.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	edit(doc)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fetchToken gets an access token from the gateway (client_secret_basic),
// retrying while the token service has not yet learned of a new client.
func fetchToken(clientID, secret, scope string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	var last string
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, secret)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return "", err
			}
			return body.AccessToken, nil
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("token: %s", last)
}
