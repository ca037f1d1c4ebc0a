package vaultclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/libs/vaultclient"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func root(t *testing.T, v *testkit.Vault) *vaultapi.Client {
	t.Helper()
	conf := vaultapi.DefaultConfig()
	conf.Address = v.Addr()
	c, err := vaultapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	return c
}

func TestSettingsAreValidated(t *testing.T) {
	for _, tt := range []struct {
		cfg  vaultclient.Config
		want string
	}{
		{vaultclient.Config{}, "VAULT_TOKEN"},
		{vaultclient.Config{AuthMethod: "kubernetes"}, "VAULT_K8S_ROLE"},
		{vaultclient.Config{AuthMethod: "approle", Token: "x"}, "VAULT_AUTH_METHOD"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
}

// A root token is refused unless development allows it; the error says
// what to use instead and does not show the token.
func TestRootTokenRefused(t *testing.T) {
	v := testkit.NewVault(t)
	_, err := vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), Token: v.RootToken})
	if err == nil || !strings.Contains(err.Error(), "root token") || !strings.Contains(err.Error(), "VAULT_ALLOW_ROOT_TOKEN") {
		t.Fatalf("root token: %v", err)
	}
	if _, err := vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), Token: v.RootToken, AllowRootToken: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), Token: "hvs.not-a-token"}); err == nil ||
		!strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "hvs.not-a-token") {
		t.Fatalf("bad token: %v", err)
	}
}

// A periodic token with a 2 s period stays valid for several periods while
// KeepAlive runs, and writes keep working.
func TestPeriodicTokenIsRenewed(t *testing.T) {
	v := testkit.NewVault(t)
	token, err := v.PolicyToken(context.Background(), "kv-writer", `path "secret/data/*" { capabilities = ["create", "update", "read"] }`, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := keepAlive(t, c)
	for i := range 16 { // 8 s: four periods
		if _, err := c.API().KVv2("secret").Put(context.Background(), "probe", map[string]any{"i": i}); err != nil {
			t.Fatalf("write %d after %d ms: %v", i, i*500, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	stop()
}

func keepAlive(t *testing.T, c *vaultclient.Client) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.KeepAlive(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// The Kubernetes auth method against a real Vault: auth/kubernetes is
// configured with a local stand-in for the Kubernetes API that answers
// TokenReview for one service account JWT. The client logs in with the JWT
// file, and when its token reaches the role's max TTL (4 s) and can no
// longer be renewed, it logs in again, so requests keep working.
func TestKubernetesAuthLogsInAgain(t *testing.T) {
	v := testkit.NewVault(t)
	jwtPath, reviews := fakeKubernetes(t, v)
	c, err := vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), AuthMethod: vaultclient.AuthKubernetes,
		KubernetesRole: "agentidp-test", JWTPath: jwtPath, Timeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	if reviews.Load() != 1 {
		t.Fatalf("%d token reviews after the first login, want 1", reviews.Load())
	}
	stop := keepAlive(t, c)
	for i := range 20 { // 10 s: two and a half max TTLs
		if _, err := c.API().KVv2("secret").Put(context.Background(), "probe", map[string]any{"i": i}); err != nil {
			t.Fatalf("write %d after %d ms: %v", i, i*500, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	stop()
	if n := reviews.Load(); n < 3 {
		t.Fatalf("%d logins in 10 s with a 4 s max TTL, want at least 3", n)
	}
	// A wrong role fails with a message naming the settings.
	_, err = vaultclient.New(context.Background(), vaultclient.Config{Addr: v.Addr(), AuthMethod: vaultclient.AuthKubernetes,
		KubernetesRole: "nope", JWTPath: jwtPath})
	if err == nil || !strings.Contains(err.Error(), "VAULT_K8S_ROLE") {
		t.Fatalf("wrong role: %v", err)
	}
}

// fakeKubernetes enables auth/kubernetes on v against a TokenReview server
// that authenticates exactly one JWT (service account agentidp/token), and
// returns the path of a file holding that JWT and the count of reviews.
func fakeKubernetes(t *testing.T, v *testkit.Vault) (string, *atomic.Int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := josejwt.Signed(signer).Claims(map[string]any{
		"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:agentidp:token",
		"kubernetes.io/serviceaccount/namespace":            "agentidp",
		"kubernetes.io/serviceaccount/service-account.name": "token",
		"kubernetes.io/serviceaccount/service-account.uid":  "3e5c1f9a-0000-4000-8000-000000000001",
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	var reviews atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
			http.NotFound(w, r)
			return
		}
		var review struct {
			Spec struct {
				Token string `json:"token"`
			} `json:"spec"`
		}
		_ = json.NewDecoder(r.Body).Decode(&review)
		status := map[string]any{"authenticated": false}
		if review.Spec.Token == jwt {
			reviews.Add(1)
			status = map[string]any{"authenticated": true, "user": map[string]any{
				"username": "system:serviceaccount:agentidp:token", "uid": "3e5c1f9a-0000-4000-8000-000000000001",
				"groups": []string{"system:serviceaccounts", "system:serviceaccounts:agentidp"}}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
	}))
	t.Cleanup(api.Close)

	c := root(t, v)
	if err := c.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string]map[string]any{
		"auth/kubernetes/config": {"kubernetes_host": api.URL, "disable_local_ca_jwt": true, "token_reviewer_jwt": "reviewer"},
		"auth/kubernetes/role/agentidp-test": {"bound_service_account_names": "token", "bound_service_account_namespaces": "agentidp",
			"token_policies": "kv-writer", "token_ttl": "2s", "token_max_ttl": "4s"},
	} {
		if _, err := c.Logical().Write(path, data); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if err := c.Sys().PutPolicy("kv-writer", `path "secret/data/*" { capabilities = ["create", "update", "read"] }`); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, &reviews
}
