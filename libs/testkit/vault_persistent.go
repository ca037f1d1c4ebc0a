package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// vaultInit is what the first start records: enough to unseal and use the
// server on later starts. Local development only.
type vaultInit struct {
	UnsealKey string `json:"unseal_key"`
	RootToken string `json:"root_token"`
}

// Integrated storage (Raft), as production Vault clusters use: unlike the
// file backend it survives a SIGKILL mid-write (the file backend can leave
// a half-written entry that later fails with "invalid ciphertext").
const vaultConfigHCL = `# Written by libs/testkit for the local stack. Not for production.
storage "raft" {
  path    = %q
  node_id = "node1"
  # One node on loopback: fast elections.
  performance_multiplier = 1
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
disable_mlock = true
ui            = false
api_addr      = "http://127.0.0.1:%d"
cluster_addr  = "http://127.0.0.1:%d"
`

func startPersistentVault(ctx context.Context, bin string, cfg VaultConfig) (*Vault, error) {
	dataDir := filepath.Join(cfg.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	// The cluster port is fixed per directory (raft remembers it).
	clusterPort, err := clusterPortFor(cfg.Dir)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(cfg.Dir, "vault.hcl")
	conf := fmt.Sprintf(vaultConfigHCL, dataDir, cfg.Port, clusterPort, cfg.Port, clusterPort)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "-config="+confPath)
	cmd.Env = []string{"HOME=" + os.TempDir(), "PATH=" + os.Getenv("PATH")}
	proc, err := StartProcess(cmd, cfg.LogPath)
	if err != nil {
		return nil, err
	}
	v := &Vault{Port: cfg.Port, proc: proc}
	fail := func(err error) (*Vault, error) {
		v.Stop()
		return nil, fmt.Errorf("vault: %w", err)
	}
	// Up, in whatever state: 501 not initialised, 503 sealed, 200 active.
	if err := v.waitHealth(ctx, 60*time.Second, func(code int) bool { return code == 200 || code == 501 || code == 503 }); err != nil {
		return fail(err)
	}
	initPath := filepath.Join(cfg.Dir, "init.json")
	var keys vaultInit
	if b, err := os.ReadFile(initPath); err == nil {
		if err := json.Unmarshal(b, &keys); err != nil {
			return fail(fmt.Errorf("%s: %w", initPath, err))
		}
	} else {
		var resp struct {
			Keys      []string `json:"keys"`
			RootToken string   `json:"root_token"`
		}
		if err := v.call(ctx, "PUT", "/v1/sys/init", "", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &resp); err != nil {
			return fail(fmt.Errorf("initialise: %w", err))
		}
		if len(resp.Keys) != 1 {
			return fail(errors.New("initialise: no unseal key returned"))
		}
		keys = vaultInit{UnsealKey: resp.Keys[0], RootToken: resp.RootToken}
		b, _ := json.Marshal(keys)
		if err := os.WriteFile(initPath, b, 0o600); err != nil {
			return fail(err)
		}
	}
	if err := v.call(ctx, "PUT", "/v1/sys/unseal", "", map[string]string{"key": keys.UnsealKey}, nil); err != nil {
		return fail(fmt.Errorf("unseal: %w", err))
	}
	// 200 once this node has won its election and is active.
	if err := v.waitReady(ctx, 30*time.Second); err != nil {
		return fail(err)
	}
	v.RootToken = keys.RootToken
	var mounts map[string]any
	if err := v.call(ctx, "GET", "/v1/sys/mounts", v.RootToken, nil, &mounts); err != nil {
		return fail(err)
	}
	if _, ok := mounts["secret/"]; !ok {
		mount := map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}
		if err := v.call(ctx, "POST", "/v1/sys/mounts/secret", v.RootToken, mount, nil); err != nil {
			return fail(fmt.Errorf("mount kv v2 at secret/: %w", err))
		}
	}
	// KV v2 upgrades its storage in the background after a mount or an
	// unseal; wait until it answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := v.call(ctx, "GET", "/v1/secret/config", v.RootToken, nil, nil)
		if err == nil {
			return v, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("kv v2 at secret/ not ready: %w", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterPortFor returns the raft cluster port recorded in dir, choosing a
// free one on first use.
func clusterPortFor(dir string) (int, error) {
	path := filepath.Join(dir, "cluster-port")
	if b, err := os.ReadFile(path); err == nil {
		var port int
		if _, err := fmt.Sscan(string(b), &port); err == nil && port > 0 {
			return port, nil
		}
	}
	port, err := FreePort()
	if err != nil {
		return 0, err
	}
	return port, os.WriteFile(path, []byte(fmt.Sprint(port)), 0o600)
}

// call makes one Vault API request; out, if not nil, receives the JSON answer.
func (v *Vault) call(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Addr()+path, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
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
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}
