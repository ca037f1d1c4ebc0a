package app_test

import (
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/services/token/internal/app"
)

const kek = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

func TestConfig(t *testing.T) {
	base := map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "REDIS_URL": "redis://127.0.0.1:1/0", "VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_TOKEN": "t"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		err  string // substring naming the variable; "" = valid
	}{
		{"defaults with Vault", with(), ""},
		{"file store", with("VAULT_ADDR", "<unset>", "VAULT_TOKEN", "<unset>", "DATA_DIR", "/tmp/x", "KEY_ENCRYPTION_KEY", kek), ""},
		{"no key store", with("VAULT_ADDR", "<unset>", "VAULT_TOKEN", "<unset>"), "DATA_DIR, KEY_ENCRYPTION_KEY"},
		{"data dir without key", with("VAULT_ADDR", "<unset>", "VAULT_TOKEN", "<unset>", "DATA_DIR", "/tmp/x"), "KEY_ENCRYPTION_KEY"},
		{"short key", with("VAULT_ADDR", "<unset>", "VAULT_TOKEN", "<unset>", "DATA_DIR", "/tmp/x", "KEY_ENCRYPTION_KEY", "c2hvcnQ="), "KEY_ENCRYPTION_KEY: must be 32 bytes"},
		{"vault without token", with("VAULT_TOKEN", "<unset>"), "VAULT_TOKEN"},
		{"no redis", with("REDIS_URL", "<unset>"), "REDIS_URL"},
		{"bad issuer", with("ISSUER", "ftp://x"), "ISSUER"},
		{"issuer with query", with("ISSUER", "https://x/?a=1"), "ISSUER"},
		{"prepublish shorter than a JWKS cache", with("KEY_PREPUBLISH", "1m", "JWKS_MAX_AGE", "5m"), "KEY_PREPUBLISH"},
		{"rotation shorter than prepublish", with("KEY_ROTATION_INTERVAL", "30m"), "KEY_ROTATION_INTERVAL"},
		{"local cache beyond a second", with("LOCAL_CACHE_TTL", "2s"), "LOCAL_CACHE_TTL"},
		{"unknown algorithm", with("SIGNING_ALG", "RS256"), "SIGNING_ALG"},
		{"token TTL too long", with("TOKEN_TTL", "48h"), "TOKEN_TTL"},
		{"burst without rate is fine", with("RATE_LIMIT_PER_SECOND", "0", "RATE_LIMIT_BURST", "0"), ""},
		{"rate without burst", with("RATE_LIMIT_BURST", "0"), "RATE_LIMIT_BURST"},
		{"short cache key", with("CACHE_KEY", "c2hvcnQ="), "CACHE_KEY"},
		{"bad address", with("HTTP_ADDR", "9103"), "HTTP_ADDR"},
		{"transit", with("TOKEN_SIGNING", "transit"), ""},
		{"unknown signer", with("TOKEN_SIGNING", "hsm"), "TOKEN_SIGNING"},
		{"transit without Vault", with("TOKEN_SIGNING", "transit", "VAULT_ADDR", "<unset>", "VAULT_TOKEN", "<unset>", "DATA_DIR", "/tmp/x", "KEY_ENCRYPTION_KEY", kek), "VAULT_ADDR"},
		{"transit signs ES256 only", with("TOKEN_SIGNING", "transit", "SIGNING_ALG", "EdDSA"), "SIGNING_ALG"},
		{"transit key with a slash", with("TOKEN_SIGNING", "transit", "TRANSIT_KEY", "a/b"), "TRANSIT_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.LoadFrom[app.Config](tt.env)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one naming %s", err, tt.err)
			}
			_ = cfg
		})
	}
	cfg, _ := config.LoadFrom[app.Config](with("ISSUER", "https://idp.example.com/"))
	if cfg.Issuer != "https://idp.example.com" {
		t.Errorf("issuer %q keeps its trailing slash", cfg.Issuer)
	}
}
