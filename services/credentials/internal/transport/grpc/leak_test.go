package grpc_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// No secret reaches Postgres, the logs or the metrics: the test runs every
// operation, then dumps every row of every table and all log and metric
// output, and looks for every secret it generated or presented. In Vault
// mode Postgres must not hold a hash of a secret either.
func TestNoSecretLeaks(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var secrets []string
		keep := func(s string) string { secrets = append(secrets, s); return s }

		agentID := e.newAgent("agents:read")
		a := e.create(agentID, 0)
		keep(a.GetClientSecret())
		b := e.create(agentID, 3600)
		keep(b.GetClientSecret())
		e.wantValid(agentID, a.GetClientSecret())
		r := e.rotate(agentID, a.GetCredential().GetCredentialId(), 60)
		keep(r.GetClientSecret())
		e.wantValid(agentID, a.GetClientSecret())
		e.wantValid(agentID, r.GetClientSecret())
		r2 := e.rotate(agentID, a.GetCredential().GetCredentialId(), 0)
		keep(r2.GetClientSecret())
		if _, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{
			AgentId: agentID, CredentialId: b.GetCredential().GetCredentialId()}); err != nil {
			t.Fatal(err)
		}
		e.wantInvalid(agentID, b.GetClientSecret())
		// Failures with secret-looking input: well-formed but unknown,
		// corrupted, legacy-shaped, and a valid secret for the wrong client.
		unknown, err := secret.New(uuid.Must(uuid.NewV7()))
		if err != nil {
			t.Fatal(err)
		}
		e.wantInvalid(agentID, keep(unknown.Reveal()))
		corrupted := []byte(r2.GetClientSecret())
		corrupted[40] = map[bool]byte{true: 'b', false: 'a'}[corrupted[40] == 'a']
		e.wantInvalid(agentID, keep(string(corrupted)))
		e.wantInvalid(agentID, keep("phase1-"+rand.Text()))
		e.wantInvalid(e.newAgent(), r2.GetClientSecret())
		e.wantInvalid(agentID, keep(rand.Text()+rand.Text()+rand.Text()))
		_, _ = e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: b.GetCredential().GetCredentialId()})
		e.shutdown() // flush lastUsedAt and stop the feed: all writes are done

		haystacks := map[string]string{"logs": e.logs.String(), "metrics": gather(t, e.reg), "database": dumpDatabase(t, e.dbURL)}
		if len(haystacks["logs"]) < 500 {
			t.Fatalf("suspiciously little log output (%d bytes)", len(haystacks["logs"]))
		}
		for _, s := range secrets {
			needles := []string{s, s[len(secret.Prefix):]} // the secret, and its body without the prefix
			sum := sha256.Sum256([]byte(s))
			if e.kv != nil {
				// Vault mode: not even a hash.
				needles = append(needles, hex.EncodeToString(sum[:]), base64.RawStdEncoding.EncodeToString(sum[:]),
					base64.StdEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:]))
			}
			for where, hay := range haystacks {
				for _, n := range needles {
					if strings.Contains(hay, n) {
						t.Errorf("a secret (or its hash) appears in the %s", where)
					}
				}
			}
		}
		// The random parts alone (without id and checksum) must not appear either.
		for _, s := range secrets[:4] {
			random := s[35:78]
			for where, hay := range haystacks {
				if strings.Contains(hay, random) {
					t.Errorf("a secret's random part appears in the %s", where)
				}
			}
		}
		if e.kv == nil && !strings.Contains(haystacks["database"], "sha256$") {
			t.Fatal("embedded mode: expected the one-way hashes in the dump (is the dump complete?)")
		}
		if e.kv != nil && !strings.Contains(haystacks["database"], "secret/agentidp/agents/"+agentID) {
			t.Fatal("vault mode: expected vault_path in the dump (is the dump complete?)")
		}
	})
}

// dumpDatabase renders every row of every table of the public schema.
func dumpDatabase(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		b.WriteString("== " + table + "\n")
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if !strings.Contains(b.String(), "== credential_secrets") || !strings.Contains(b.String(), "== agents") {
		t.Fatalf("dump misses tables:\n%s", b.String())
	}
	return b.String()
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
