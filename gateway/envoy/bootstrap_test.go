package envoy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		b        Bootstrap
		wantType string
		wantErr  string
	}{
		{name: "loopback control plane", b: Bootstrap{XDSAddr: "127.0.0.1:18000", AdminAddr: "127.0.0.1:9901", NodeID: "agentidp-gateway"}, wantType: "STATIC"},
		{name: "control plane by name", b: Bootstrap{XDSAddr: "gateway:18000", AdminAddr: "127.0.0.1:9901", NodeID: "n"}, wantType: "STRICT_DNS"},
		{name: "node id needing quotes", b: Bootstrap{XDSAddr: "[::1]:18000", AdminAddr: "[::1]:9901", NodeID: `a: "b" # c`}, wantType: "STATIC"},
		{name: "no node", b: Bootstrap{XDSAddr: "127.0.0.1:1", AdminAddr: "127.0.0.1:2"}, wantErr: "node id is empty"},
		{name: "bad xds address", b: Bootstrap{XDSAddr: "18000", AdminAddr: "127.0.0.1:2", NodeID: "n"}, wantErr: "xds address"},
		{name: "admin by name", b: Bootstrap{XDSAddr: "127.0.0.1:1", AdminAddr: "localhost:2", NodeID: "n"}, wantErr: "must be an IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.b.Render()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Node struct {
					ID string `yaml:"id"`
				} `yaml:"node"`
				StaticResources struct {
					Clusters []struct {
						Name string `yaml:"name"`
						Type string `yaml:"type"`
					} `yaml:"clusters"`
				} `yaml:"static_resources"`
			}
			if err := yaml.Unmarshal(out, &doc); err != nil {
				t.Fatalf("not YAML: %v\n%s", err, out)
			}
			if doc.Node.ID != tt.b.NodeID {
				t.Errorf("node id = %q, want %q", doc.Node.ID, tt.b.NodeID)
			}
			if c := doc.StaticResources.Clusters; len(c) != 1 || c[0].Name != "xds_cluster" || c[0].Type != tt.wantType {
				t.Errorf("clusters = %+v, want xds_cluster of type %s", c, tt.wantType)
			}
		})
	}
}

// TestEnvoyAcceptsBootstrap has the real Envoy validate the rendered file.
func TestEnvoyAcceptsBootstrap(t *testing.T) {
	testkit.SkipIfShort(t)
	bin, err := testkit.EnvoyBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Bootstrap{XDSAddr: "127.0.0.1:18000", AdminAddr: "127.0.0.1:0", NodeID: "agentidp-gateway"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := exec.CommandContext(ctx, bin, "--mode", "validate", "--config-path", path, "--log-level", "error").CombinedOutput()
	if err != nil {
		t.Fatalf("envoy --mode validate: %v\n%s", err, msg)
	}
}
