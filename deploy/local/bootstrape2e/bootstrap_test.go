// Package bootstrape2e runs the first-admin bootstrap (cli/bootstrap and
// the agentidp command) against the whole mesh on free ports, started with
// no admin at all, as every deployment starts (docs/deploy.md). Secrets it
// issues are proven the way a client uses them: a token from the gateway's
// /oauth2/token, and an API call with it.
package bootstrape2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/deploy/local/stack"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/mtls"
)

var (
	mesh     *stack.Stack
	registry registryv1.RegistryServiceClient
	creds    credentialsv1.CredentialsServiceClient
	verifier credentialsv1.ClientAuthServiceClient
	// operator may decommission agents (the gateway's mesh identity).
	operator registryv1.RegistryServiceClient
	client   = &http.Client{Timeout: 10 * time.Second}
)

func TestMain(m *testing.M) {
	os.Exit(stack.TestMain(m, stack.TestMainOptions{
		Name:    "bootstrap",
		NoAdmin: true,
		Ready: func(_ context.Context, s *stack.Stack, _ stack.Admin) error {
			mesh = s
			// As the operators' mesh identity, like the bootstrap command.
			regConn, err := s.DialService(mtls.Registry, s.Ports().RegistryGRPC, mtls.Bootstrap)
			if err != nil {
				return err
			}
			// Decommissioning the admin behind the command's back is beyond
			// the bootstrap identity: that call goes as the gateway's (the
			// whole API), without identity metadata, so as the system.
			gwConn, err := s.DialService(mtls.Registry, s.Ports().RegistryGRPC, mtls.Gateway)
			if err != nil {
				return err
			}
			operator = registryv1.NewRegistryServiceClient(gwConn)
			credConn, err := s.DialService(mtls.Credentials, s.Ports().CredentialsGRPC, mtls.Bootstrap)
			if err != nil {
				return err
			}
			registry = registryv1.NewRegistryServiceClient(regConn)
			creds = credentialsv1.NewCredentialsServiceClient(credConn)
			verifier = credentialsv1.NewClientAuthServiceClient(credConn)
			return nil
		},
	}))
}

// config is a package-level run against the mesh.
func config(out bootstrap.Output) bootstrap.Config {
	return bootstrap.Config{Registry: registry, Credentials: creds, Verifier: verifier, Output: out, URL: mesh.GatewayURL()}
}

// cli runs the agentidp command against the mesh.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := mesh.Agentidp(ctx, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("agentidp %v: %v", args, err)
	}
	t.Logf("agentidp %s → exit %d\n%s", strings.Join(args, " "), code, e.String())
	return o.String(), e.String(), code
}

// vars reads the VARIABLE=value lines of the framed stdout hand-over.
func vars(stdout string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "AGENTIDP_") {
			out[k] = v
		}
	}
	return out
}

// token asks the gateway for a token with a client secret; it returns the
// HTTP status and the access token.
func token(t *testing.T, clientID, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", mesh.GatewayURL()+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body.AccessToken
}

// works waits until the secret yields a token that lists agents through
// the gateway: what the platform admin is for.
func works(t *testing.T, clientID, secret string) {
	t.Helper()
	eventually(t, func() error {
		st, tok := token(t, clientID, secret)
		if st != http.StatusOK {
			return fmt.Errorf("/oauth2/token: %d", st)
		}
		req, _ := http.NewRequest("GET", mesh.GatewayURL()+"/v1/agents", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v1/agents with its token: %d", resp.StatusCode)
		}
		return nil
	})
}

// fails waits until the secret no longer yields a token (a revocation
// reaches the token service's caches through the credentials feed).
func fails(t *testing.T, clientID, secret string) {
	t.Helper()
	eventually(t, func() error {
		if st, _ := token(t, clientID, secret); st != http.StatusUnauthorized {
			return fmt.Errorf("/oauth2/token with a replaced secret: %d, want 401", st)
		}
		return nil
	})
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// admins lists the agents of the owner "platform".
func admins(t *testing.T) []*registryv1.Agent {
	t.Helper()
	page := int32(100)
	resp, err := registry.ListAgents(context.Background(), &registryv1.ListAgentsRequest{Owner: bootstrap.AdminOwner, PageSize: &page})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetAgents()
}

// active lists the ids of an agent's active credentials (every page: the
// walk leaves dozens of revoked ones).
func active(t *testing.T, agentID string) []string {
	t.Helper()
	var out []string
	req := &credentialsv1.ListCredentialsRequest{AgentId: agentID}
	for {
		resp, err := creds.ListCredentials(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetCredentials() {
			if c.GetStatus() == "active" {
				out = append(out, c.GetCredentialId())
			}
		}
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func readEnv(t *testing.T, path string) bootstrap.Credential {
	t.Helper()
	c, _, err := (&bootstrap.EnvFile{Path: path}).Load(context.Background())
	if err != nil || !c.Complete() {
		t.Fatalf("%s holds no credential (%v)", path, err)
	}
	return c
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func mustNotShow(t *testing.T, secret string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if secret != "" && strings.Contains(o, secret) {
			t.Errorf("a secret shows where it must not:\n%s", o)
		}
	}
}

// errCrash stands for the process dying: the call never happens.
var errCrash = errors.New("the bootstrap process died here (simulated)")

type crashBeforeCredential struct{ bootstrap.Credentials }

func (crashBeforeCredential) CreateCredential(context.Context, *credentialsv1.CreateCredentialRequest, ...grpc.CallOption) (*credentialsv1.IssuedCredential, error) {
	return nil, errCrash
}

// TestBootstrap walks one deployment through its life, each step on the
// state the previous ones left: the first admin, reruns, every output,
// rotation, partial failures, races, a suspended and a decommissioned
// admin, and make dev's path. A failed step stops the walk.
func TestBootstrap(t *testing.T) {
	if mesh == nil {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
	ctx := context.Background()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	var adminID string
	var first bootstrap.Credential // the stdout hand-over

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a crash between the two steps leaves an admin without a credential", func(t *testing.T) {
			cfg := config(&bootstrap.Stdout{W: io.Discard})
			cfg.Credentials = crashBeforeCredential{creds}
			res, err := bootstrap.Run(ctx, cfg)
			if !errors.Is(err, errCrash) || !res.AgentCreated || res.Issued {
				t.Fatalf("Run = %+v, %v; want the admin registered, then the crash", res, err)
			}
			adminID = res.AgentID
			all := admins(t)
			if len(all) != 1 || all[0].GetAgentId() != adminID {
				t.Fatalf("agents of owner platform: %v", all)
			}
			a := all[0]
			if a.GetName() != "platform-admin" || a.GetAgentType() != "admin" || a.GetStatus() != "active" ||
				a.GetMetadata()["agentidp.dev/role"] != "platform-admin" {
				t.Errorf("the admin: %v", a)
			}
			want := []string{"agents:read", "agents:write", "credentials:write", "tokens:introspect", "audit:read", "platform:admin"}
			if got := slices.Sorted(slices.Values(a.GetScopes())); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("scopes %v, want %v", got, want)
			}
			if got := active(t, adminID); len(got) != 0 {
				t.Errorf("credentials after the crash: %v", got)
			}
		}},
		{"the next run issues the credential and prints it once", func(t *testing.T) {
			stdout, stderr, code := cli(t, "bootstrap")
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			v := vars(stdout)
			first = bootstrap.Credential{URL: v["AGENTIDP_URL"], ClientID: v["AGENTIDP_CLIENT_ID"], ClientSecret: bootstrap.Secret(v["AGENTIDP_CLIENT_SECRET"])}
			if first.ClientID != adminID || first.URL != mesh.GatewayURL() || !strings.HasPrefix(first.ClientSecret.Reveal(), "agentidp_sk_") {
				t.Fatalf("the hand-over: %v\n%s", v, stdout)
			}
			mustContain(t, "stdout", stdout, "shown this once")
			mustContain(t, "stderr", stderr, "found the platform admin "+adminID, "has no active credential: issuing one")
			mustNotShow(t, first.ClientSecret.Reveal(), stderr)
			if got := active(t, adminID); len(got) != 1 {
				t.Errorf("active credentials %v, want one", got)
			}
			works(t, first.ClientID, first.ClientSecret.Reveal())
		}},
		{"a second run creates nothing and prints no secret", func(t *testing.T) {
			before := active(t, adminID)
			stdout, stderr, code := cli(t, "bootstrap")
			if code != 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			mustContain(t, "stderr", stderr, "has an active credential", "never shown again", "--rotate")
			mustNotShow(t, first.ClientSecret.Reveal(), stderr)
			if after := active(t, adminID); !slices.Equal(before, after) || len(admins(t)) != 1 {
				t.Errorf("credentials %v → %v, admins %d", before, after, len(admins(t)))
			}
		}},
		{"an env file that lacks the secret is left alone unless told", func(t *testing.T) {
			_, stderr, code := cli(t, "bootstrap", "--output", "env-file="+envFile)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			mustContain(t, "stderr", stderr, "has an active credential")
			if _, err := os.Stat(envFile); !os.IsNotExist(err) {
				t.Errorf("the env file was written (%v)", err)
			}
			_, stderr, code = cli(t, "bootstrap", "--output", "env-file="+envFile, "--rotate-if-missing")
			if code != 0 {
				t.Fatalf("--rotate-if-missing: exit %d", code)
			}
			mustContain(t, "stderr", stderr, "--rotate-if-missing", "revoked the replaced credential")
			fi, err := os.Stat(envFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("env file: %v, %v", fi, err)
			}
			c := readEnv(t, envFile)
			mustNotShow(t, c.ClientSecret.Reveal(), stderr)
			if c.ClientID != adminID || c.URL != mesh.GatewayURL() || c.ClientSecret == first.ClientSecret {
				t.Errorf("env file: %+v", c)
			}
			works(t, c.ClientID, c.ClientSecret.Reveal())
			fails(t, first.ClientID, first.ClientSecret.Reveal())
			if got := active(t, adminID); len(got) != 1 {
				t.Errorf("active credentials %v, want one", got)
			}
		}},
		{"a run whose env file holds a working secret is a no-op", func(t *testing.T) {
			before, _ := os.ReadFile(envFile)
			_, stderr, code := cli(t, "bootstrap", "--output", "env-file="+envFile, "--rotate-if-missing")
			after, _ := os.ReadFile(envFile)
			if code != 0 || !bytes.Equal(before, after) {
				t.Fatalf("exit %d; file changed: %v", code, !bytes.Equal(before, after))
			}
			mustContain(t, "stderr", stderr, "holds a working secret")
		}},
		{"--rotate issues a new secret and revokes the old one once handed over", func(t *testing.T) {
			old := readEnv(t, envFile)
			_, _, code := cli(t, "bootstrap", "--output", "env-file="+envFile, "--rotate")
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			c := readEnv(t, envFile)
			if c.ClientSecret == old.ClientSecret {
				t.Fatal("the secret did not change")
			}
			works(t, c.ClientID, c.ClientSecret.Reveal())
			fails(t, old.ClientID, old.ClientSecret.Reveal())
			if got := active(t, adminID); len(got) != 1 {
				t.Errorf("active credentials %v, want one", got)
			}
		}},
		{"a create whose answer is lost leaves nothing behind", func(t *testing.T) {
			before := active(t, adminID)
			held, _ := os.ReadFile(envFile)
			cfg := config(&bootstrap.EnvFile{Path: envFile})
			cfg.Credentials, cfg.Rotate = lostAnswer{creds}, true
			res, err := bootstrap.Run(ctx, cfg)
			if !bootstrap.Transient(err) || len(res.Revoked) != 1 || res.Issued {
				t.Fatalf("Run = %+v, %v; want a transient error and the unknown credential revoked", res, err)
			}
			if after := active(t, adminID); !slices.Equal(before, after) {
				t.Errorf("credentials %v → %v", before, after)
			}
			if now, _ := os.ReadFile(envFile); !bytes.Equal(held, now) {
				t.Error("the env file changed")
			}
		}},
		{"a failed hand-over revokes the credential it created", func(t *testing.T) {
			before := active(t, adminID)
			cfg := config(failingSave{&bootstrap.EnvFile{Path: envFile}})
			cfg.Rotate = true
			res, err := bootstrap.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), "revoked again") || len(res.Revoked) != 1 || res.Issued {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			if after := active(t, adminID); !slices.Equal(before, after) {
				t.Errorf("credentials %v → %v", before, after)
			}
			c := readEnv(t, envFile)
			works(t, c.ClientID, c.ClientSecret.Reveal())
		}},
		{"a Kubernetes Secret", func(t *testing.T) { kubernetesSecret(t, envFile) }},
		{"a Vault KV entry", func(t *testing.T) { vaultEntry(t, envFile) }},
		{"runs at once issue one credential", func(t *testing.T) { racingRuns(t, envFile) }},
		{"a suspended admin is refused; --force reactivates it", func(t *testing.T) {
			if _, err := registry.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
				Agent: &registryv1.Agent{AgentId: adminID, Status: "suspended"},
			}); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := cli(t, "bootstrap", "--output", "env-file="+envFile)
			if code != 3 {
				t.Fatalf("exit %d, want 3 (refused)", code)
			}
			mustContain(t, "stderr", stderr, "suspended", "--force")
			_, stderr, code = cli(t, "bootstrap", "--output", "env-file="+envFile, "--force")
			if code != 0 {
				t.Fatalf("--force: exit %d", code)
			}
			mustContain(t, "stderr", stderr, "reactivated", "holds a working secret")
			c := readEnv(t, envFile)
			works(t, c.ClientID, c.ClientSecret.Reveal())
		}},
		{"a decommissioned admin is refused; --force registers its replacement", func(t *testing.T) {
			if _, err := operator.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: adminID}); err != nil {
				t.Fatal(err)
			}
			old := readEnv(t, envFile)
			stdout, stderr, code := cli(t, "bootstrap")
			if code != 3 || stdout != "" {
				t.Fatalf("exit %d, want 3 (refused); stdout %q", code, stdout)
			}
			mustContain(t, "stderr", stderr, "decommissioned", "--force")
			for range 2 { // the second --force finds the replacement
				if _, _, code := cli(t, "bootstrap", "--output", "env-file="+envFile, "--force"); code != 0 {
					t.Fatalf("--force: exit %d", code)
				}
			}
			c := readEnv(t, envFile)
			if c.ClientID == adminID {
				t.Fatal("the env file still holds the decommissioned admin")
			}
			all := admins(t)
			if len(all) != 2 || all[1].GetAgentId() != c.ClientID || all[1].GetMetadata()["agentidp.dev/replaces"] != adminID {
				t.Errorf("admins after the replacement: %v", all)
			}
			works(t, c.ClientID, c.ClientSecret.Reveal())
			fails(t, old.ClientID, old.ClientSecret.Reveal())
			adminID = c.ClientID
		}},
		{"a bootstrap that starts before the services waits for them", func(t *testing.T) {
			// A one-shot container or Job starts with the mesh: here the
			// credentials service is down when the bootstrap starts.
			svc := mesh.Replicas("credentials")[0]
			svc.Stop()
			restarted := false
			defer func() {
				if !restarted {
					_ = svc.Start(context.Background())
				}
			}()
			file := filepath.Join(dir, "late")
			cmd := mesh.Agentidp(ctx, "bootstrap", "--output", "env-file="+file, "--rotate-if-missing", "--timeout", "2m")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			restarted = true
			if err := cmd.Wait(); err != nil {
				t.Fatalf("agentidp bootstrap: %v\n%s", err, stderr.String())
			}
			mustContain(t, "stderr", stderr.String(), "waiting for credentials", "issued credential")
			c := readEnv(t, file)
			works(t, c.ClientID, c.ClientSecret.Reveal())
			if err := os.Rename(file, envFile); err != nil {
				t.Fatal(err)
			}
		}},
		{"make dev's path: stack.BootstrapAdmin keeps and reuses .dev/env", func(t *testing.T) {
			devEnv := filepath.Join(dir, "dev", "env")
			a, err := mesh.BootstrapAdmin(ctx, devEnv)
			if err != nil {
				t.Fatal(err)
			}
			if a.ClientID != adminID {
				t.Errorf("BootstrapAdmin returned agent %s, the admin is %s", a.ClientID, adminID)
			}
			works(t, a.ClientID, a.ClientSecret)
			again, err := mesh.BootstrapAdmin(ctx, devEnv)
			if err != nil || again != a {
				t.Errorf("a second BootstrapAdmin: %v, changed: %v", err, again != a)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
