package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
)

type svcConfig struct {
	config.Common
	Addr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9101"`
	DB   string `env:"DATABASE_URL,required"`
}

func (c svcConfig) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	return config.CheckAddr("GRPC_ADDR", c.Addr)
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // a substring naming the variable
	}{
		{"defaults", map[string]string{"DATABASE_URL": "postgres://x"}, ""},
		{"missing required", map[string]string{}, "DATABASE_URL"},
		{"bad level", map[string]string{"DATABASE_URL": "x", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad duration", map[string]string{"DATABASE_URL": "x", "SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
		{"bad address", map[string]string{"DATABASE_URL": "x", "GRPC_ADDR": "9101"}, "GRPC_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.LoadFrom[svcConfig](tt.env)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Addr != "127.0.0.1:9101" || cfg.ShutdownTimeout != 10*time.Second || cfg.LogLevel != "info" {
					t.Fatalf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

type meshConfig struct {
	config.Common
	config.Mesh
}

func (c meshConfig) Validate() error { return c.Mesh.Validate() }

// TestMeshRequiresCertificates: without the three files a process refuses
// to start, unless the development flag says plaintext; reflection is off
// by default.
func TestMeshRequiresCertificates(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"nothing", map[string]string{}, "TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE are required"},
		{"half", map[string]string{"TLS_CERT_FILE": "/c", "TLS_KEY_FILE": "/k"}, "set all three"},
		{"files", map[string]string{"TLS_CERT_FILE": "/c", "TLS_KEY_FILE": "/k", "TLS_CA_FILE": "/ca"}, ""},
		{"plaintext flag", map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true"}, ""},
		{"flag false", map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "false"}, "required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.LoadFrom[meshConfig](tt.env)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.GRPCReflection {
					t.Fatal("reflection on by default")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
