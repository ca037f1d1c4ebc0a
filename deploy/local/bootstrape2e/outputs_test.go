package bootstrape2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/cli/bootstrap/kubesecret"
	"github.com/sentryagent/agentidp/cli/bootstrap/kubesecret/kubesecrettest"
	"github.com/sentryagent/agentidp/cli/bootstrap/vaultkv"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// lostAnswer creates the credential, then loses the answer, as a
// connection reset after the server committed would.
type lostAnswer struct{ bootstrap.Credentials }

func (l lostAnswer) CreateCredential(ctx context.Context, in *credentialsv1.CreateCredentialRequest, opts ...grpc.CallOption) (*credentialsv1.IssuedCredential, error) {
	if _, err := l.Credentials.CreateCredential(ctx, in, opts...); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unavailable, "connection reset by peer (simulated)")
}

// failingSave is an Output that accepts the secret in Prepare and then
// cannot store it (a full disk, a Secret the Role may not update).
type failingSave struct{ bootstrap.Output }

func (failingSave) Save(context.Context, bootstrap.Credential, bootstrap.Version) error {
	return errors.New("no space left on device (simulated)")
}

// kubernetesSecret runs the Job's logic: the bootstrap with the
// k8s-secret output, against the live mesh. No Kubernetes API server can
// run on the build machines: the Secret lives in client-go's fake
// clientset (kubesecrettest: with resourceVersions and update conflicts,
// as the API server has). On return
// envFile holds the admin's working secret again, for the next steps.
func kubernetesSecret(t *testing.T, envFile string) {
	ctx := context.Background()
	k8s := kubesecrettest.Clientset()
	out := kubesecret.New(k8s, "agentidp", "agentidp-platform-admin")
	get := func() (map[string]string, string, error) {
		s, err := k8s.CoreV1().Secrets("agentidp").Get(ctx, "agentidp-platform-admin", metav1.GetOptions{})
		if err != nil {
			return nil, "", err
		}
		m := map[string]string{}
		for k, v := range s.Data {
			m[k] = string(v)
		}
		return m, s.ResourceVersion, nil
	}
	fromEnv := readEnv(t, envFile)

	// The admin has a credential (the env file's): the Job leaves it be.
	res, err := bootstrap.Run(ctx, config(out))
	if err != nil || res.Issued {
		t.Fatalf("Run = %+v, %v; want nothing issued", res, err)
	}
	if _, _, err := get(); !apierrors.IsNotFound(err) {
		t.Fatalf("the Secret was written, or: %v", err)
	}

	// Told to, it issues a secret into the Secret and revokes the lost one.
	cfg := config(out)
	cfg.RotateIfMissing = true
	if res, err = bootstrap.Run(ctx, cfg); err != nil || !res.Issued {
		t.Fatalf("--rotate-if-missing: %+v, %v", res, err)
	}
	data, rv, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if data["AGENTIDP_CLIENT_ID"] != res.AgentID || data["AGENTIDP_URL"] != mesh.GatewayURL() || len(data) != 3 {
		t.Errorf("Secret data keys: AGENTIDP_CLIENT_ID=%s AGENTIDP_URL=%s, %d keys", data["AGENTIDP_CLIENT_ID"], data["AGENTIDP_URL"], len(data))
	}
	works(t, data["AGENTIDP_CLIENT_ID"], data["AGENTIDP_CLIENT_SECRET"])
	fails(t, fromEnv.ClientID, fromEnv.ClientSecret.Reveal())

	// The Job again (a re-applied manifest): the Secret works; untouched.
	if res, err = bootstrap.Run(ctx, config(out)); err != nil || !res.Held || res.Issued {
		t.Fatalf("rerun: %+v, %v; want the Secret held", res, err)
	}
	if _, rv2, _ := get(); rv2 != rv {
		t.Errorf("the Secret was written again (resourceVersion %s → %s)", rv, rv2)
	}

	// Its credential revoked by an operator: the next Job run issues one.
	if _, err := creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: res.AgentID, CredentialId: res.CredentialID}); err != nil {
		t.Fatal(err)
	}
	if res, err = bootstrap.Run(ctx, config(out)); err != nil || !res.Issued {
		t.Fatalf("after the revocation: %+v, %v", res, err)
	}
	data2, _, _ := get()
	if data2["AGENTIDP_CLIENT_SECRET"] == data["AGENTIDP_CLIENT_SECRET"] {
		t.Error("the Secret still holds the revoked secret")
	}
	works(t, data2["AGENTIDP_CLIENT_ID"], data2["AGENTIDP_CLIENT_SECRET"])
	keep(t, envFile, data2["AGENTIDP_CLIENT_ID"], data2["AGENTIDP_CLIENT_SECRET"])
}

// bootstrapPolicy is the Vault policy docs/deploy.md gives the bootstrap's
// token for the output vault=agentidp/bootstrap/platform-admin.
const bootstrapPolicy = `path "secret/data/agentidp/bootstrap/platform-admin" {
  capabilities = ["create", "read", "update"]
}`

// vaultEntry runs the Terraform deployments' output, a Vault KV entry,
// against the mesh's own Vault, with a token holding the documented policy.
// On return envFile holds the admin's working secret again.
func vaultEntry(t *testing.T, envFile string) {
	ctx := context.Background()
	cfgV := vault.DefaultConfig()
	cfgV.Address = mesh.VaultAddr()
	root, err := vault.NewClient(cfgV)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(mesh.VaultToken())
	token := func(req *vault.TokenCreateRequest) *vault.Client {
		s, err := root.Auth().Token().Create(req)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := root.Clone()
		c.SetToken(s.Auth.ClientToken)
		return c
	}
	const path = "agentidp/bootstrap/platform-admin"
	agentID := admins(t)[0].GetAgentId()
	before := active(t, agentID)

	// A token without the policy: refused before anything is created.
	notRenewable := false
	limited := vaultkv.New(token(&vault.TokenCreateRequest{Policies: []string{"default"}, TTL: "10m", Renewable: &notRenewable}), "secret", path)
	if renewed, err := limited.RenewToken(ctx); err != nil || renewed {
		t.Errorf("RenewToken of a token that is not renewable: %v, %v", renewed, err)
	}
	cfg := config(limited)
	cfg.Rotate = true
	if _, err := bootstrap.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "Vault") {
		t.Fatalf("Run with a token that may not write the entry: %v", err)
	}
	if after := active(t, agentID); len(after) != len(before) || after[0] != before[0] {
		t.Fatalf("credentials %v → %v", before, after)
	}

	if err := root.Sys().PutPolicy("agentidp-bootstrap", bootstrapPolicy); err != nil {
		t.Fatal(err)
	}
	// The documented token: the policy, periodic, renewed by each run.
	out := vaultkv.New(token(&vault.TokenCreateRequest{Policies: []string{"agentidp-bootstrap"}, Period: "768h", NoParent: true}), "secret", path)
	if renewed, err := out.RenewToken(ctx); err != nil || !renewed {
		t.Errorf("RenewToken of a periodic token: %v, %v", renewed, err)
	}
	cfg = config(out)
	cfg.RotateIfMissing = true
	res, err := bootstrap.Run(ctx, cfg)
	if err != nil || !res.Issued {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	c, _, err := out.Load(ctx)
	if err != nil || !c.Complete() || c.ClientID != agentID || c.CredentialID != res.CredentialID || c.URL != mesh.GatewayURL() {
		t.Fatalf("the entry: %+v, %v", c, err)
	}
	works(t, c.ClientID, c.ClientSecret.Reveal())
	if res, err = bootstrap.Run(ctx, cfg); err != nil || !res.Held {
		t.Fatalf("rerun: %+v, %v; want the entry held", res, err)
	}
	keep(t, envFile, c.ClientID, c.ClientSecret.Reveal())
}

// keep writes a working secret into the walk's env file.
func keep(t *testing.T, envFile, clientID, secret string) {
	t.Helper()
	c := bootstrap.Credential{URL: mesh.GatewayURL(), ClientID: clientID, ClientSecret: bootstrap.Secret(secret)}
	_ = os.Remove(envFile)
	if err := (&bootstrap.EnvFile{Path: envFile}).Save(context.Background(), c, ""); err != nil {
		t.Fatal(err)
	}
}

// racingRuns starts several bootstraps at once on an admin without a
// credential, all handing over to one Vault entry, as the first Cloud Run
// instances of a deployment do: exactly one credential is issued, the
// entry holds it, the others revoke theirs. Several rounds, since the
// interleavings differ. On return envFile holds the last round's secret.
func racingRuns(t *testing.T, envFile string) {
	ctx := context.Background()
	agentID := admins(t)[0].GetAgentId()
	cfgV := vault.DefaultConfig()
	cfgV.Address = mesh.VaultAddr()
	root, err := vault.NewClient(cfgV)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(mesh.VaultToken())
	const runs, rounds = 4, 5
	for round := range rounds {
		for _, id := range active(t, agentID) {
			if _, err := creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id}); err != nil {
				t.Fatal(err)
			}
		}
		path := fmt.Sprintf("agentidp/bootstrap/race-%d", round)
		results := make([]bootstrap.Result, runs)
		errs := make([]error, runs)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = bootstrap.Run(ctx, config(vaultkv.New(root, "secret", path)))
			}()
		}
		wg.Wait()
		issued := 0
		for i := range runs {
			if errs[i] != nil {
				t.Errorf("round %d, run %d: %v", round, i, errs[i])
			}
			if results[i].Issued {
				issued++
			}
		}
		got := active(t, agentID)
		c, _, err := vaultkv.New(root, "secret", path).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if issued != 1 || len(got) != 1 || c.CredentialID != got[0] {
			t.Fatalf("round %d: %d runs issued a secret; active credentials %v; the entry holds %s; want one, held", round, issued, got, c.CredentialID)
		}
		works(t, c.ClientID, c.ClientSecret.Reveal())
		keep(t, envFile, c.ClientID, c.ClientSecret.Reveal())
	}
}
