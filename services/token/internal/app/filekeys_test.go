package app_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/token/internal/app"
)

// TestFileKeyStore: without Vault, keys live in an encrypted file under
// DATA_DIR; replicas sharing the directory share the keys, and a wrong
// KEY_ENCRYPTION_KEY stops the service at start-up with a clear error.
func TestFileKeyStore(t *testing.T) {
	p := startPlatform(t)
	dir := t.TempDir()
	env := func() map[string]string {
		e := p.env("DATA_DIR="+dir, "KEY_ENCRYPTION_KEY="+kek)
		delete(e, "VAULT_ADDR")
		delete(e, "VAULT_TOKEN")
		return e
	}
	a := startToken(t, env())
	b := startToken(t, env())
	ja, jb := a.do("GET", "/.well-known/jwks.json", ""), b.do("GET", "/.well-known/jwks.json", "")
	if ja.status != 200 || string(ja.body) != string(jb.body) {
		t.Fatalf("replicas on one DATA_DIR publish different keys:\n%s\n%s", ja.body, jb.body)
	}
	a.mustToken(p.credential(p.agent("agents:read"), 0), "")

	bad := env()
	bad["KEY_ENCRYPTION_KEY"] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	bad["HTTP_ADDR"], bad["ISSUER"] = "127.0.0.1:0", "http://127.0.0.1:1"
	cfg, err := config.LoadFrom[app.Config](bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.New(context.Background(), cfg, app.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewRegistry()})
	if err == nil || !strings.Contains(err.Error(), "KEY_ENCRYPTION_KEY does not decrypt") {
		t.Fatalf("wrong key: %v", err)
	}
}
