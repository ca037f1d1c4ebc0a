// Package sdkcontract runs every SDK's test suite — the shared contract
// scenarios of sdks/contract, each SDK's own tests and its README quickstart —
// against one ephemeral mesh started by deploy/local/stack, so that all four
// SDKs are held to the same behaviour of the real API.
package sdkcontract

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

var (
	mesh  *stack.Stack
	admin stack.Admin
)

func TestMain(m *testing.M) {
	// The token service keeps its default rate limit (10/s, burst 20): the
	// scenario 14-rate-limited-token needs it.
	os.Exit(stack.TestMain(m, stack.TestMainOptions{
		Name: "sdkcontract",
		Ready: func(_ context.Context, s *stack.Stack, a stack.Admin) error {
			mesh, admin = s, a
			return nil
		},
	}))
}

// sdks are the SDKs and the tools each needs. An SDK whose toolchain is
// missing is skipped on a developer's machine, saying which tool is
// missing; in CI it fails the run (see stack.InCI).
var sdks = []struct {
	name      string
	tools     []string
	toolchain string
}{
	{"python", []string{"python3"}, "Python 3.9 or later"},
	{"go", []string{"go", "gofmt"}, "Go"},
	{"java", []string{"java", "javac", "mvn"}, "a JDK 17 or later and Maven"},
	{"typescript", []string{"node", "npm"}, "Node.js 20 or later with npm"},
}

// TestSDKs runs `scripts/sdks.sh test <sdk>` for each SDK with the mesh and
// the bootstrap admin in its environment, and fails with the command's output.
// Subtests run one after the other: the machine has two cores.
func TestSDKs(t *testing.T) {
	if mesh == nil {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
	root, err := stack.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The suites skip the scenarios that need authz when /v1 answers
	// without a token (their own probe); against this mesh none may skip.
	resp, err := http.Get(mesh.GatewayURL() + "/v1/agents?pageSize=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("GET /v1/agents without a token answers 200: the SDKs' suites would skip the scenarios that need authz")
	}
	for _, sdk := range sdks {
		t.Run(sdk.name, func(t *testing.T) {
			for _, tool := range sdk.tools {
				if _, err := exec.LookPath(tool); err != nil {
					if stack.InCI() {
						t.Fatalf("CI is set, so every SDK must be tested, but the %s SDK's toolchain is missing: %s is not on PATH (install %s)", sdk.name, tool, sdk.toolchain)
					}
					t.Skipf("SKIPPED: the %s SDK's toolchain is missing (%s is not on PATH); install %s to test this SDK (in CI this fails)", sdk.name, tool, sdk.toolchain)
				}
			}
			before := countAgents(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "sdks.sh"), "test", sdk.name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(),
				"AGENTIDP_URL="+mesh.GatewayURL(),
				"AGENTIDP_CLIENT_ID="+admin.ClientID,
				"AGENTIDP_CLIENT_SECRET="+admin.ClientSecret,
				"NO_COLOR=1", // plain output in the test log
			)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(start).Round(100 * time.Millisecond)
			if err != nil {
				t.Fatalf("scripts/sdks.sh test %s failed after %s: %v\n%s", sdk.name, took, err, out)
			}
			if strings.Contains(string(out), "no live mesh") {
				t.Fatalf("the %s SDK's suite did not see the mesh:\n%s", sdk.name, out)
			}
			// Evidence that the suite really drove this mesh: the contract
			// and the quickstart register at least 8 agents.
			if added := countAgents(t) - before; added < 8 {
				t.Fatalf("the %s SDK's suite registered %d agents through the gateway, want at least 8:\n%s", sdk.name, added, out)
			} else {
				t.Logf("the %s SDK passed in %s (%d agents registered through the gateway)\n%s", sdk.name, took, added, tail(out, 12))
			}
		})
	}
}

// countAgents counts every agent through the gateway, as the admin.
func countAgents(t *testing.T) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(admin.ClientID), url.QueryEscape(admin.ClientSecret))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	getJSON(t, client, req, &tok)
	n, pageToken := 0, ""
	for {
		req, _ := http.NewRequest("GET", mesh.GatewayURL()+"/v1/agents?pageSize=100&pageToken="+url.QueryEscape(pageToken), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		var page struct {
			Agents        []json.RawMessage `json:"agents"`
			NextPageToken string            `json:"nextPageToken"`
		}
		getJSON(t, client, req, &page)
		n += len(page.Agents)
		if page.NextPageToken == "" {
			return n
		}
		pageToken = page.NextPageToken
	}
}

func getJSON(t *testing.T, client *http.Client, req *http.Request, out any) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
}

func tail(b []byte, lines int) string {
	s := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(s) > lines {
		s = s[len(s)-lines:]
	}
	return strings.Join(s, "\n")
}
