package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const testSecret = "agentidp_sk_never-printed"

// fakeAPI answers every /v1 request with status and body, and tokens
// always; it stands in for the gateway where the test is about the CLI's
// own handling (exit codes, output). The CLI against the real mesh:
// deploy/local/clie2e.
func fakeAPI(t *testing.T, status int, body string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-1")
		if r.URL.Path == "/oauth2/token" {
			fmt.Fprint(w, `{"access_token":"h.p.s","token_type":"Bearer","expires_in":900,"scope":"agents:read"}`)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	isolate(t)
	t.Setenv("AGENTIDP_URL", srv.URL)
	t.Setenv("AGENTIDP_CLIENT_ID", "agent-1")
	t.Setenv("AGENTIDP_CLIENT_SECRET", testSecret)
}

func execute(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}, args)
	if strings.Contains(out.String()+errb.String(), testSecret) {
		t.Errorf("agentidp %v printed the client secret", args)
	}
	return out.String(), errb.String(), code
}

func status(code int, reason string) string {
	return fmt.Sprintf(`{"code":%d,"message":"m","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":%q}]}`, code, reason)
}

// Each class of API error has its exit code, the error on stderr with the
// request id.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		code   int
	}{
		{404, status(5, "AGENT_NOT_FOUND"), ExitNotFound},
		{409, status(10, "ETAG_MISMATCH"), ExitConflict},
		{400, status(9, "AGENT_NOT_ACTIVE"), ExitConflict},
		{400, status(3, "FIELD_INVALID"), ExitUsage},
		{401, `{"error":"invalid_token"}`, ExitAuth},
		{403, status(7, "INSUFFICIENT_SCOPE"), ExitAuth},
		{503, status(14, "SERVICE_UNAVAILABLE"), ExitUnavailable},
		{500, status(13, "INTERNAL"), ExitUnavailable},
		{418, `{}`, ExitFailed},
	} {
		t.Run(fmt.Sprint(tc.status, tc.body), func(t *testing.T) {
			fakeAPI(t, tc.status, tc.body)
			_, errb, code := execute(t, "", "agents", "get", "x", "--url", os.Getenv("AGENTIDP_URL"))
			if code != tc.code || !strings.Contains(errb, "request id req-1") {
				t.Errorf("exit %d, want %d: %s", code, tc.code, errb)
			}
		})
	}
}

func TestUsageAndAuth(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"agents", "get"}, ExitUsage, "accepts 1 arg"},
		{[]string{"agents", "list", "-o", "xml"}, ExitUsage, "want table, json, yaml or id"},
		{[]string{"agents", "list", "--bogus"}, ExitUsage, "unknown flag"},
		{[]string{"agents", "list"}, ExitAuth, "not logged in"},
		{[]string{"agents", "list", "--profile", "nope"}, ExitAuth, "no profile"},
		{[]string{"login", "--url", "http://127.0.0.1:1"}, ExitUsage, "--client-id"},
		{[]string{"login", "--url", "http://127.0.0.1:1", "--client-id", "x"}, ExitUsage, "no client secret"},
		{[]string{"login", "--profile", "../x", "--url", "http://127.0.0.1:1", "--client-id", "x"}, ExitUsage, "profile name"},
		{[]string{"login", "--url", "http://127.0.0.1:1", "--client-id", "x", "--client-secret-stdin"}, ExitUsage, "standard input is empty"},
	} {
		_, errb, code := execute(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errb, tc.msg) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.args, code, tc.code, tc.msg, errb)
		}
	}
	// Nothing listens: unavailable, and the secret is in no message.
	_, errb, code := execute(t, testSecret+"\n", "login", "--url", "http://127.0.0.1:1", "--client-id", "x", "--client-secret-stdin")
	if code != ExitUnavailable {
		t.Errorf("login to nothing: exit %d: %s", code, errb)
	}
}

// The secret of a new credential is printed where asked (table, JSON,
// YAML) and nowhere else; every format reads back.
func TestOutputs(t *testing.T) {
	issued := `{"credential":{"credentialId":"c-1","agentId":"a-1","status":"active","secretVersion":"1"},"clientId":"a-1","clientSecret":"agentidp_sk_new"}`
	fakeAPI(t, 200, issued)
	out, _, code := execute(t, "", "credentials", "generate", "a-1")
	if code != 0 || !strings.Contains(out, "agentidp_sk_new") || !strings.Contains(out, "shown once") {
		t.Errorf("table: %d\n%s", code, out)
	}
	for _, format := range []string{"json", "yaml"} {
		out, _, _ := execute(t, "", "credentials", "generate", "a-1", "-o", format)
		var v struct {
			Credential struct {
				CredentialID  string `json:"credentialId"`
				SecretVersion int64  `json:"secretVersion"`
			} `json:"credential"`
			ClientSecret string `json:"clientSecret"`
		}
		if err := yaml.Unmarshal([]byte(out), &v); err != nil || v.ClientSecret != "agentidp_sk_new" || v.Credential.CredentialID != "c-1" || v.Credential.SecretVersion != 1 {
			t.Errorf("-o %s: %v %+v\n%s", format, err, v, out)
		}
	}

	// --secret-file: the secret in a 0600 file, not on stdout.
	file := filepath.Join(t.TempDir(), "bot.secret")
	out, _, code = execute(t, "", "credentials", "generate", "a-1", "--secret-file", file)
	if st, err := os.Stat(file); code != 0 || err != nil || st.Mode().Perm() != 0o600 || strings.Contains(out, "agentidp_sk_new") || !strings.Contains(out, file) {
		t.Errorf("--secret-file: exit %d, %v\n%s", code, err, out)
	}
	if b, _ := os.ReadFile(file); string(b) != "agentidp_sk_new\n" {
		t.Errorf("secret file holds %q", b)
	}
	if out, _, _ := execute(t, "", "credentials", "generate", "a-1", "-o", "id"); out != "c-1\n" {
		t.Errorf("-o id: %q", out)
	}

	fakeAPI(t, 200, `{"agents":[{"agentId":"a-1","name":"one","owner":"o","status":"active","scopes":["agents:read"]}]}`)
	out, _, _ = execute(t, "", "agents", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AGENT ID") || !strings.Contains(lines[1], "a-1") || !strings.Contains(lines[1], "agents:read") {
		t.Errorf("table:\n%s", out)
	}
	out, _, _ = execute(t, "", "agents", "list", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0]["agentId"] != "a-1" {
		t.Errorf("json: %v\n%s", err, out)
	}

	if out, _, _ := execute(t, "", "agents", "list", "-o", "id"); out != "a-1\n" {
		t.Errorf("-o id: %q", out)
	}
	if _, errb, code := execute(t, "", "token", "get", "-o", "id"); code != ExitUsage {
		t.Errorf("token get -o id: exit %d %s", code, errb)
	}

	// token get: the token alone, for TOKEN=$(agentidp token get).
	out, _, _ = execute(t, "", "token", "get")
	if out != "h.p.s\n" {
		t.Errorf("token get: %q", out)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_agentidp", "zsh": "#compdef agentidp"} {
		out, errb, code := execute(t, "", "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: %d %s", shell, code, errb)
		}
	}
}

func TestPolicyTest(t *testing.T) {
	out, errb, code := execute(t, "", "policy", "test", "../../../policies")
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("policies/: exit %d\n%s%s", code, out, errb)
	}
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package p\nallow := false\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package p\ntest_allow if allow\ntest_deny if not allow\n"), 0o644)
	out, _, code = execute(t, "", "policy", "test", dir)
	if code != ExitFailed || !strings.Contains(out, "FAIL") || !strings.Contains(out, "test_allow") || !strings.Contains(out, "1 passed, 1 failed") {
		t.Errorf("failing test: exit %d\n%s", code, out)
	}
	out, _, _ = execute(t, "", "policy", "test", dir, "-o", "json", "--run", "test_deny")
	var rep struct{ Passed, Failed int }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Passed != 1 || rep.Failed != 0 {
		t.Errorf("--run: %v %+v\n%s", err, rep, out)
	}
	link := filepath.Join(t.TempDir(), "policies")
	abs, _ := filepath.Abs("../../../policies")
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	if out, _, code := execute(t, "", "policy", "test", link); code != 0 || !strings.Contains(out, " passed, 0 failed") || strings.Contains(out, " 0 passed") {
		t.Errorf("a symlinked directory: exit %d\n%s", code, out)
	}
	if _, _, code := execute(t, "", "policy", "test", filepath.Join(dir, "missing")); code != ExitUsage {
		t.Errorf("missing directory: exit %d", code)
	}
}
