package grpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// raftVault is a single-node Vault with integrated storage (Raft), the
// storage production Vault clusters use. The crash tests need it: after a
// SIGKILL, testkit's file-backed server can keep a half-written temporary
// entry that breaks LIST under that path ("invalid ciphertext"), which is
// a limit of the file backend, not of the service under test.
type raftVault struct {
	*testkit.Vault // Port and RootToken address it; Kill/Restart are ours
	dir            string
	unsealKey      string
	proc           *testkit.Process
}

func newRaftVault(t *testing.T) *raftVault {
	t.Helper()
	testkit.SkipIfShort(t)
	dir, err := os.MkdirTemp("", "agentidp-raft-vault-")
	if err != nil {
		t.Fatal(err)
	}
	port, cluster := testkit.MustFreePort(t), testkit.MustFreePort(t)
	conf := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "node1"
  # Fast elections: one node, on loopback.
  performance_multiplier = 1
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr      = "http://127.0.0.1:%d"
cluster_addr  = "http://127.0.0.1:%d"
disable_mlock = true
`, filepath.Join(dir, "raft"), port, cluster, port, cluster)
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	v := &raftVault{Vault: &testkit.Vault{Port: port}, dir: dir}
	t.Cleanup(func() {
		v.stop(syscall.SIGTERM)
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
			t.Logf("vault log:\n%s", tailString(string(b), 3000))
		}
		_ = os.RemoveAll(dir)
	})
	ctx := context.Background()
	if err := v.start(ctx); err != nil {
		t.Fatal(err)
	}
	var init struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	if err := v.call(ctx, "PUT", "sys/init", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &init); err != nil || len(init.Keys) != 1 {
		t.Fatalf("init: %v", err)
	}
	v.unsealKey, v.RootToken = init.Keys[0], init.RootToken
	if err := v.unseal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.call(ctx, "POST", "sys/mounts/secret", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.waitKV(ctx); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *raftVault) start(ctx context.Context) error {
	bin, err := testkit.VaultBinary()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "server", "-config="+filepath.Join(v.dir, "vault.hcl"))
	cmd.Env = []string{"HOME=" + os.TempDir(), "PATH=" + os.Getenv("PATH"), "VAULT_LOG_LEVEL=warn"}
	if v.proc, err = testkit.StartProcess(cmd, filepath.Join(v.dir, "vault.log")); err != nil {
		return err
	}
	return v.waitHealth(ctx, func(int) bool { return true }) // listening, in any state
}

func (v *raftVault) unseal(ctx context.Context) error {
	if err := v.call(ctx, "PUT", "sys/unseal", map[string]string{"key": v.unsealKey}, nil); err != nil {
		return err
	}
	// 200 once this node is the active (leader) node.
	return v.waitHealth(ctx, func(code int) bool { return code == http.StatusOK })
}

// Kill ends the server as a crash would; Restart brings it back with its data.
func (v *raftVault) Kill() { v.stop(syscall.SIGKILL) }

func (v *raftVault) Restart(ctx context.Context) error {
	if err := v.start(ctx); err != nil {
		return err
	}
	if err := v.unseal(ctx); err != nil {
		return err
	}
	return v.waitKV(ctx)
}

func (v *raftVault) stop(sig syscall.Signal) {
	if v.proc != nil {
		v.proc.Stop(sig, 5*time.Second)
	}
}

func (v *raftVault) waitKV(ctx context.Context) error {
	return retry(ctx, 30*time.Second, func() error { return v.call(ctx, "GET", "secret/config", nil, nil) })
}

func (v *raftVault) waitHealth(ctx context.Context, ok func(int) bool) error {
	return retry(ctx, 60*time.Second, func() error {
		select {
		case <-v.proc.Done():
			return fmt.Errorf("vault exited: %v", v.proc.Err())
		default:
		}
		resp, err := http.Get(v.Addr() + "/v1/sys/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if !ok(resp.StatusCode) {
			return fmt.Errorf("sys/health %d", resp.StatusCode)
		}
		return nil
	})
}

func (v *raftVault) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Addr()+"/v1/"+path, body)
	if err != nil {
		return err
	}
	if v.RootToken != "" {
		req.Header.Set("X-Vault-Token", v.RootToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
