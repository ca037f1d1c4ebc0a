package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/services/audit/internal/app"
)

func TestConfig(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": "postgres://x", "REDIS_URL": "redis://127.0.0.1:6379/0"}
	}
	cfg, err := config.LoadFrom[app.Config](base())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCAddr != "127.0.0.1:9104" || cfg.HTTPAddr != "127.0.0.1:9204" || cfg.RegistryAddr != "127.0.0.1:9101" ||
		cfg.CredentialsAddr != "127.0.0.1:9102" || cfg.Stream != "agentidp:audit" || cfg.StreamGroup != "audit" ||
		cfg.StreamConsumer != "" || cfg.StreamClaimIdle != 30*time.Second || cfg.StreamLinger != 20*time.Millisecond ||
		cfg.RetentionDays != 365 || cfg.MaintenanceInterval != time.Hour || cfg.PartitionsAhead != 2 {
		t.Fatalf("defaults: %+v", cfg)
	}
	off := base()
	off["REGISTRY_ADDR"], off["CREDENTIALS_ADDR"] = app.Disabled, app.Disabled
	if _, err := config.LoadFrom[app.Config](off); err != nil {
		t.Fatalf("both feeds off: %v", err)
	}
	for name, tt := range map[string]struct {
		set  map[string]string
		want string
	}{
		"no database":            {map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		"no redis":               {map[string]string{"REDIS_URL": ""}, "REDIS_URL"},
		"grpc off":               {map[string]string{"GRPC_ADDR": "off"}, "GRPC_ADDR"},
		"bad registry address":   {map[string]string{"REGISTRY_ADDR": "registry"}, "REGISTRY_ADDR"},
		"bad credentials addr":   {map[string]string{"CREDENTIALS_ADDR": "credentials"}, "CREDENTIALS_ADDR"},
		"no claim idle":          {map[string]string{"AUDIT_STREAM_CLAIM_IDLE": "0s"}, "AUDIT_STREAM_CLAIM_IDLE"},
		"negative retention":     {map[string]string{"RETENTION_DAYS": "-1"}, "RETENTION_DAYS"},
		"no maintenance":         {map[string]string{"MAINTENANCE_INTERVAL": "0s"}, "MAINTENANCE_INTERVAL"},
		"too many partitions":    {map[string]string{"PARTITIONS_AHEAD": "25"}, "PARTITIONS_AHEAD"},
		"negative pool":          {map[string]string{"DB_MAX_CONNS": "-1"}, "DB_MAX_CONNS"},
		"not a duration":         {map[string]string{"AUDIT_STREAM_LINGER": "soon"}, "AUDIT_STREAM_LINGER"},
		"unknown log format":     {map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		"partitions not integer": {map[string]string{"PARTITIONS_AHEAD": "two"}, "PARTITIONS_AHEAD"},
	} {
		t.Run(name, func(t *testing.T) {
			env := base()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			if _, err := config.LoadFrom[app.Config](env); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
