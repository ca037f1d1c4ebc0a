package testkit_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// A persistent Vault keeps KV data across a crash and a restart.
func TestPersistentVaultSurvivesKill(t *testing.T) {
	v := testkit.NewPersistentVault(t)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, v.Addr()+"/v1/"+path, strings.NewReader(body))
		req.Header.Set("X-Vault-Token", v.RootToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := 0; i < 2; i++ {
		if code, body := do("POST", "secret/data/k", `{"data":{"v":"kept"}}`); code != 200 {
			t.Fatalf("write: %d %s", code, body)
		}
		v.Kill()
		if err := v.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code, body := do("GET", "secret/data/k", ""); code != 200 || !strings.Contains(body, `"kept"`) {
			t.Fatalf("after restart: %d %s", code, body)
		}
		if code, body := do("LIST", "secret/metadata/", ""); code != 200 {
			t.Fatalf("list after restart: %d %s", code, body)
		}
	}
}
