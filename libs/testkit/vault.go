package testkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Vault is a HashiCorp Vault server in dev mode: in memory, unsealed, KV v2
// mounted at secret/, root token known. Never for production.
type Vault struct {
	Port      int
	RootToken string
	// CACert is the PEM file of the CA that signed a TLS server's
	// certificate (VAULT_CACERT); "" for plain HTTP.
	CACert string
	proc   *Process
	cfg    VaultConfig // for Restart
}

// VaultConfig describes a server to start.
type VaultConfig struct {
	Port      int    // 0 picks a free one
	RootToken string // dev mode only; default "root"
	LogPath   string // default: discarded
	// Dir, when set, makes the server persistent: file storage under Dir,
	// initialised and unsealed automatically on first start (the unseal
	// key and root token are kept in Dir/init.json, mode 0600), KV v2
	// mounted at secret/. For the local stack, whose data must survive
	// restarts. Empty means `vault server -dev` (in memory; tests).
	Dir string
	// TLS serves HTTPS with a certificate of a CA generated for the server
	// (`vault server -dev-tls`, dev mode only): Vault.CACert is its PEM.
	TLS bool
}

// VaultBinary finds the vault server: $AGENTIDP_VAULT_BIN, the binary
// scripts/vault.sh builds into the per-machine cache, or vault on PATH.
// There is no package of Vault on our machines; scripts/deps.sh builds it
// from the Go module proxy (tools/vault) once per machine.
func VaultBinary() (string, error) {
	if b := os.Getenv("AGENTIDP_VAULT_BIN"); b != "" {
		return b, nil
	}
	cache := os.Getenv("AGENTIDP_CACHE")
	if cache == "" {
		if xdg := os.Getenv("XDG_CACHE_HOME"); xdg != "" {
			cache = filepath.Join(xdg, "agentidp")
		} else if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "agentidp")
		}
	}
	if cache != "" {
		if p := filepath.Join(cache, "bin", "vault"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	return "", errors.New("vault not found: run scripts/vault.sh (builds it from the Go module proxy), or set AGENTIDP_VAULT_BIN")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// StartVault starts `vault server -dev` on 127.0.0.1 and waits until it is
// unsealed and serving.
func StartVault(ctx context.Context, cfg VaultConfig) (*Vault, error) {
	bin, err := VaultBinary()
	if err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		if cfg.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if cfg.Dir != "" {
		v, err := startPersistentVault(ctx, bin, cfg)
		if v != nil {
			v.cfg = cfg
		}
		return v, err
	}
	if cfg.RootToken == "" {
		cfg.RootToken = "root"
	}
	args := []string{"server", "-dev",
		"-dev-root-token-id=" + cfg.RootToken,
		"-dev-listen-address=127.0.0.1:" + strconv.Itoa(cfg.Port),
		"-dev-no-store-token"}
	var caCert string
	if cfg.TLS {
		dir, err := os.MkdirTemp("", "agentidp-vault-tls-")
		if err != nil {
			return nil, err
		}
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+dir)
		caCert = filepath.Join(dir, "vault-ca.pem")
	}
	cmd := exec.Command(bin, args...)
	// A clean environment: no VAULT_* of the caller may leak in.
	cmd.Env = []string{"HOME=" + os.TempDir(), "PATH=" + os.Getenv("PATH"), "VAULT_LOG_LEVEL=warn"}
	proc, err := StartProcess(cmd, cfg.LogPath)
	if err != nil {
		return nil, err
	}
	v := &Vault{Port: cfg.Port, RootToken: cfg.RootToken, CACert: caCert, proc: proc, cfg: cfg}
	if err := v.waitReady(ctx, 60*time.Second); err != nil {
		v.Stop()
		return nil, fmt.Errorf("vault did not start: %w", err)
	}
	return v, nil
}

func (v *Vault) waitReady(ctx context.Context, timeout time.Duration) error {
	return v.waitHealth(ctx, timeout, func(code int) bool { return code == http.StatusOK })
}

// waitHealth polls sys/health until ok(status code) holds.
func (v *Vault) waitHealth(ctx context.Context, timeout time.Duration, ok func(int) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-v.proc.Done():
			return fmt.Errorf("server exited: %v", v.proc.Err())
		default:
		}
		// sys/health answers 200 only when initialised, unsealed and active.
		client, err := v.httpClient() // a TLS server writes its CA as it starts
		var resp *http.Response
		if err == nil {
			resp, err = client.Get(v.Addr() + "/v1/sys/health")
		}
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addr is the server's URL (VAULT_ADDR).
func (v *Vault) Addr() string {
	if v.CACert != "" {
		return "https://" + Addr(v.Port)
	}
	return "http://" + Addr(v.Port)
}

// httpClient is a client for the server: trusting its CA if it has one.
func (v *Vault) httpClient() (*http.Client, error) {
	if v.CACert == "" {
		return &http.Client{Timeout: time.Second}, nil
	}
	pem, err := os.ReadFile(v.CACert)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", v.CACert)
	}
	// No keep-alive: a client is made per poll.
	return &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true,
	}}, nil
}

// Stop ends the server; its data (in memory) is gone.
func (v *Vault) Stop() {
	if v != nil {
		v.proc.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// Kill ends the server at once, as a crash would (fault-injection tests).
func (v *Vault) Kill() {
	if v != nil {
		v.proc.Stop(syscall.SIGKILL, time.Second)
	}
}

// PID is the server's process id (resource reports read /proc/PID).
func (v *Vault) PID() int {
	if v == nil {
		return 0
	}
	return v.proc.PID()
}

// Done is closed when the server has exited.
func (v *Vault) Done() <-chan struct{} { return v.proc.Done() }

// Restart starts a stopped or killed persistent server again on the same
// port and directory, unsealing it; its data is intact. (A dev server
// restarts empty.)
func (v *Vault) Restart(ctx context.Context) error {
	nv, err := StartVault(ctx, v.cfg)
	if err != nil {
		return err
	}
	v.proc, v.RootToken = nv.proc, nv.RootToken
	return nil
}
