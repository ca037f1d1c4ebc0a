package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
)

// mountTransit enables Vault's transit engine at transit/ (a deployment's
// one-time setup; the audit service creates its key there).
func mountTransit(t *testing.T, v *testkit.Vault) {
	t.Helper()
	conf := vault.DefaultConfig()
	conf.Address = v.Addr()
	client, err := vault.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)
	if err := client.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
}

// The acceptance for the audit log: the audit binary signs
// checkpoints with a Vault transit key; then someone with the owner's
// rights disables the trigger, rewrites an event with recomputed hashes,
// moves the stored head and rewrites the stored checkpoints too. The hash
// chain alone holds, yet VerifyAuditChain reports the tampering, and so
// does the offline `audit verify` given the public key (from
// `audit public-key`, kept outside PostgreSQL) and the file sink.
func TestAnOwnerRewriteIsReportedByVerify(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	auditBin := testkit.GoBinary(t, auditPkg)
	v := testkit.NewVault(t)
	mountTransit(t, v)
	ownerURL := testkit.NewDatabase(t)
	loginURL := testkit.LoginRoleURL(t, ownerURL, audittest.LoginRole)
	sinkDir := t.TempDir()
	addr := testkit.Addr(testkit.MustFreePort(t))
	signerEnv := []string{"AUDIT_CHECKPOINT_TRANSIT_KEY=audit-checkpoints", "AUDIT_CHECKPOINT_VAULT_ADDR=" + v.Addr(), "AUDIT_CHECKPOINT_VAULT_TOKEN=" + v.RootToken}
	env := append([]string{"DATABASE_URL=" + loginURL, "MIGRATE_DATABASE_URL=" + ownerURL,
		"GRPC_ADDR=" + addr, "HTTP_ADDR=" + testkit.Addr(testkit.MustFreePort(t)), "REDIS_URL=" + testkit.NewRedisURL(t),
		"REGISTRY_ADDR=off", "CREDENTIALS_ADDR=off", "LOG_LEVEL=warn",
		"AUDIT_CHECKPOINT_DIR=" + sinkDir, "AUDIT_CHECKPOINT_EVENTS=50", "AUDIT_CHECKPOINT_INTERVAL=1h"}, signerEnv...)
	testkit.StartServer(t, auditBin, addr, env...)
	conn := dial(t, addr)
	ingest, client := auditv1.NewAuditIngestServiceClient(conn), auditv1.NewAuditServiceClient(conn)

	record := func(n int) {
		t.Helper()
		events := make([]*auditv1.AuditEvent, n)
		for i := range events {
			events[i] = auditlog.ToProto(auditlog.Event{ID: auditlog.NewID(), OccurredAt: time.Now(), Actor: "system",
				Action: auditlog.ActionTokenIssued, Outcome: auditlog.OutcomeSuccess, Owner: "team-a",
				Target: fmt.Sprintf("token:%d", i)})
		}
		if _, err := ingest.Record(ctx, &auditv1.RecordRequest{Events: events}); err != nil {
			t.Fatal(err)
		}
	}
	checkpointAt := func(seq int64) {
		t.Helper()
		retry(t, fmt.Sprintf("a checkpoint at %d", seq), func() error {
			page, err := client.ListAuditCheckpoints(ctx, &auditv1.ListAuditCheckpointsRequest{FromSequence: seq})
			if err != nil {
				return err
			}
			if len(page.GetCheckpoints()) == 0 || page.GetCheckpoints()[0].GetSequence() != seq {
				return fmt.Errorf("checkpoints %v", page.GetCheckpoints())
			}
			return nil
		})
	}
	record(60)
	checkpointAt(60)
	record(60)
	checkpointAt(120)
	record(10) // not yet checkpointed: protected by the chain alone

	ok, err := client.VerifyAuditChain(ctx, &auditv1.VerifyAuditChainRequest{})
	if err != nil || !ok.GetOk() || ok.GetCheckpointedThrough() != 120 || ok.GetCheckpointsChecked() != 4 { // database + sink
		t.Fatalf("before the rewrite: %v (%v)", ok, err)
	}

	// The auditor's key, read from Vault (never from PostgreSQL).
	pubFile := filepath.Join(t.TempDir(), "audit-checkpoints.pem")
	cmd := exec.Command(auditBin, "public-key")
	cmd.Env = signerEnv
	pem, err := cmd.Output()
	if err != nil || !strings.Contains(string(pem), "BEGIN PUBLIC KEY") {
		t.Fatalf("audit public-key: %v %s", err, pem)
	}
	if err := os.WriteFile(pubFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	sink := filepath.Join(sinkDir, "checkpoints.jsonl")
	offline := func(args ...string) (int, map[string]any) {
		t.Helper()
		cmd := exec.Command(auditBin, append([]string{"verify"}, args...)...)
		cmd.Env = []string{"DATABASE_URL=" + loginURL, "VAULT_ADDR=" + v.Addr(), "VAULT_TOKEN=" + v.RootToken}
		out, err := cmd.Output()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("audit verify %v: exit %d, %s", args, code, out)
		}
		return code, res
	}
	if code, res := offline("-public-key", pubFile, "-checkpoints", sink, "-require-checkpoints"); code != 0 || res["checkpointedThrough"] != "120" {
		t.Fatalf("offline, before the rewrite: exit %d %v", code, res)
	}

	// The insider: owner rights on the database.
	owner, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	audittest.Rewrite(t, owner, 30, "mallory")
	if _, err := owner.Exec(ctx, `ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
		UPDATE audit_checkpoints c SET hash = e.hash, signed_at = c.signed_at FROM audit_events e WHERE e.sequence = c.sequence;
		ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only`); err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE hash <> audit_event_hash(prev_hash, sequence,
		event_id, occurred_at, recorded_at, actor, action, target, agent_id, outcome, request_id, source_address, details, owner)
		OR prev_hash <> coalesce((SELECT hash FROM audit_events p WHERE p.sequence = audit_events.sequence - 1), prev_hash)`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the rewritten chain should be self-consistent: %d events disagree (%v)", stored, err)
	}

	broken, err := client.VerifyAuditChain(ctx, &auditv1.VerifyAuditChainRequest{})
	if err != nil || broken.GetOk() || broken.GetFirstBreak().GetSequence() != 60 ||
		!strings.HasPrefix(broken.GetFirstBreak().GetKind(), "checkpoint_") {
		t.Fatalf("VerifyAuditChain after the rewrite: %v (%v)", broken, err)
	}
	// Offline, from the sink and the auditor's key: the signed head at 60
	// is not what the rows recompute to.
	code, res := offline("-public-key", pubFile, "-checkpoints", sink)
	brk, _ := res["firstBreak"].(map[string]any)
	if code != 2 || brk["kind"] != "checkpoint_mismatch" || brk["sequence"] != "60" {
		t.Fatalf("offline after the rewrite: exit %d %v", code, res)
	}
	// With the checkpoints' rows in PostgreSQL and the key from transit:
	// the forged rows do not verify.
	code, res = offline("-vault-transit-key", "audit-checkpoints")
	brk, _ = res["firstBreak"].(map[string]any)
	if code != 2 || brk["kind"] != "checkpoint_invalid" || brk["sequence"] != "60" {
		t.Fatalf("offline with the database's checkpoints: exit %d %v", code, res)
	}
	// Without checkpoints, as before this change, the rewrite passes.
	if code, res := offline(); code != 0 {
		t.Fatalf("the bare hash chain: exit %d %v", code, res)
	}
}
