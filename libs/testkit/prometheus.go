package testkit

import (
	"context"
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

// Prometheus is a Prometheus server from the Debian package.
type Prometheus struct {
	Port int
	proc *Process
}

// PrometheusConfig describes a server to start.
type PrometheusConfig struct {
	// Dir holds the TSDB (Dir/data); ConfigPath is the prometheus.yml to load.
	Dir        string
	ConfigPath string
	Port       int    // 0 picks a free one
	LogPath    string // default Dir/prometheus.log
}

// PrometheusBinary finds prometheus: $AGENTIDP_PROMETHEUS_BIN or PATH.
func PrometheusBinary() (string, error) {
	if b := os.Getenv("AGENTIDP_PROMETHEUS_BIN"); b != "" {
		return b, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	return "", errors.New("prometheus not found (install the Debian package prometheus, or set AGENTIDP_PROMETHEUS_BIN)")
}

// StartPrometheus starts a server and waits until it is ready.
func StartPrometheus(ctx context.Context, cfg PrometheusConfig) (*Prometheus, error) {
	bin, err := PrometheusBinary()
	if err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		if cfg.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "data"), 0o755); err != nil {
		return nil, err
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(cfg.Dir, "prometheus.log")
	}
	cmd := exec.Command(bin,
		"--config.file="+cfg.ConfigPath,
		"--storage.tsdb.path="+filepath.Join(cfg.Dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(cfg.Port),
		"--web.enable-lifecycle", // POST /-/reload after a config change
	)
	proc, err := StartProcess(cmd, cfg.LogPath)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{Port: cfg.Port, proc: proc}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-proc.Done():
			log, _ := os.ReadFile(cfg.LogPath)
			return nil, fmt.Errorf("prometheus exited: %v\n%s", proc.Err(), tail(string(log), 3000))
		default:
		}
		resp, err := http.Get(p.URL() + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("prometheus not ready after 30s")
		}
		select {
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL is the server's base URL.
func (p *Prometheus) URL() string { return "http://" + Addr(p.Port) }

// Stop shuts the server down.
func (p *Prometheus) Stop() {
	if p != nil {
		p.proc.Stop(syscall.SIGTERM, 10*time.Second)
	}
}
