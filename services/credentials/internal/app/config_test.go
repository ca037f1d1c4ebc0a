package app_test

import (
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/services/credentials/internal/app"
)

func TestConfig(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": "postgres://x"}
	}
	cfg, err := config.LoadFrom[app.Config](base())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCAddr != "127.0.0.1:9102" || cfg.HTTPAddr != "127.0.0.1:9202" || cfg.RegistryAddr != "127.0.0.1:9101" ||
		cfg.VaultMount != "secret" || cfg.VaultAddr != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	tests := map[string]struct {
		set  map[string]string
		want string
	}{
		"no database":          {map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		"vault without token":  {map[string]string{"VAULT_ADDR": "http://127.0.0.1:8200"}, "VAULT_TOKEN"},
		"token without vault":  {map[string]string{"VAULT_TOKEN": "t"}, "VAULT_ADDR"},
		"bad registry address": {map[string]string{"REGISTRY_ADDR": "registry"}, "REGISTRY_ADDR"},
		"pending too short":    {map[string]string{"PENDING_TIMEOUT": "10s", "VAULT_TIMEOUT": "5s"}, "PENDING_TIMEOUT"},
		"negative cache":       {map[string]string{"SECRET_CACHE_TTL": "-1s"}, "SECRET_CACHE_TTL"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := base()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, err := config.LoadFrom[app.Config](env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
