package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// rewriteAuditSQL is the insider's rewrite (a copy of
// services/audit/internal/audittest.RewriteSQL): set the actor of event $1
// to $2 and recompute every hash from it to the head, and the head, with
// the database's own audit_event_hash. The append-only trigger must be off.
const rewriteAuditSQL = `WITH RECURSIVE
	changed AS (SELECT $1::bigint AS seq, $2::text AS actor),
	chain AS (
		SELECT e.sequence, audit_event_hash(
				coalesce((SELECT hash FROM audit_events WHERE sequence = e.sequence - 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
				e.sequence, e.event_id, e.occurred_at, e.recorded_at, (SELECT actor FROM changed), e.action, e.target,
				e.agent_id, e.outcome, e.request_id, e.source_address, e.details, e.owner) AS hash,
			coalesce((SELECT hash FROM audit_events WHERE sequence = e.sequence - 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS prev
		FROM audit_events e WHERE e.sequence = (SELECT seq FROM changed)
		UNION ALL
		SELECT e.sequence, audit_event_hash(c.hash, e.sequence, e.event_id, e.occurred_at, e.recorded_at, e.actor,
				e.action, e.target, e.agent_id, e.outcome, e.request_id, e.source_address, e.details, e.owner), c.hash
		FROM chain c JOIN audit_events e ON e.sequence = c.sequence + 1
	),
	rewritten AS (
		UPDATE audit_events e SET prev_hash = c.prev, hash = c.hash,
			actor = CASE WHEN e.sequence = (SELECT seq FROM changed) THEN (SELECT actor FROM changed) ELSE e.actor END
		FROM chain c WHERE e.sequence = c.sequence
		RETURNING e.sequence, c.hash
	)
UPDATE audit_chain_head h SET hash = r.hash FROM rewritten r
WHERE r.sequence = (SELECT max(sequence) FROM rewritten) AND h.sequence = r.sequence`

// rewriteAudit runs the rewrite as the owner (the stack's superuser), under
// the append lock, with the trigger disabled for the transaction.
func rewriteAudit(t *testing.T, owner *pgxpool.Pool, seq int64, actor string, moreSQL ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%.60s: %v", sql, err)
		}
	}
	exec(`SELECT pg_advisory_xact_lock(418581342580)`) // the append lock
	exec(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`)
	exec(`ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only`)
	exec(rewriteAuditSQL, seq, actor)
	for _, q := range moreSQL {
		exec(q)
	}
	exec(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`)
	exec(`ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// The acceptance through the real mesh: the audit service signs
// checkpoints in Vault transit. With the owner's rights on the audit
// database, someone disables the trigger, rewrites the first event with
// recomputed hashes, moves the stored head and rewrites the stored
// checkpoints to match: GET /v1/audit/verify through Envoy reports it, and
// so does the offline `audit verify` with the key read from transit and
// the file sink's checkpoints. Put back as it was, the log verifies again.
func TestAnOwnerRewriteOfTheAuditLogIsReported(t *testing.T) {
	skipShort(t)
	ctx := context.Background()
	register(t, newAgent("checkpointed")) // at least one event beyond the first
	var first int64
	eventually(t, 30*time.Second, func() error {
		r := call(t, "GET", "/v1/audit/checkpoints?pageSize=1000", nil)
		if r.Status != 200 {
			return fmt.Errorf("GET /v1/audit/checkpoints: %d %s", r.Status, r.Body)
		}
		cps, _ := r.JSON(t)["checkpoints"].([]any)
		if len(cps) == 0 {
			return errors.New("no checkpoint yet")
		}
		c := cps[0].(map[string]any)
		if c["signature"] == "" || c["keyId"] == "" || c["algorithm"] != "ed25519" {
			return fmt.Errorf("checkpoint %v", c)
		}
		_, err := fmt.Sscan(c["sequence"].(string), &first)
		return err
	})
	// A tenant without platform:admin cannot list them (they span every owner).
	tenant := ownedClient(t, fmt.Sprintf("team-cp-%d", time.Now().UnixNano()), "audit:read")
	if r := callAs(t, tenant.token, "GET", "/v1/audit/checkpoints", nil); r.Status != 403 {
		t.Fatalf("a tenant listing checkpoints: %d %s", r.Status, r.Body)
	}
	verify := func() map[string]any {
		t.Helper()
		r := call(t, "GET", "/v1/audit/verify", nil)
		expect(t, r, 200)
		return r.JSON(t)
	}
	if v := verify(); v["ok"] != true || v["checkpointsChecked"] == nil || v["checkpointsChecked"] == "0" {
		t.Fatalf("before: %v", v)
	}

	owner, err := pgxpool.New(ctx, mesh.PostgresURL("agentidp_audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	var actor string
	if err := owner.QueryRow(ctx, `SELECT actor FROM audit_events WHERE sequence = 1`).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `DROP TABLE IF EXISTS saved_checkpoints;
		CREATE TABLE saved_checkpoints AS SELECT * FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		rewriteAudit(t, owner, 1, actor, `UPDATE audit_checkpoints c SET hash = s.hash FROM saved_checkpoints s
			WHERE (s.sequence, s.signed_at, s.key_id) = (c.sequence, c.signed_at, c.key_id)`, `DROP TABLE saved_checkpoints`)
		restored = true
	}
	defer func() {
		if !restored { // leave the shared mesh's log intact for the other tests
			restore()
		}
	}()
	rewriteAudit(t, owner, 1, "mallory",
		`UPDATE audit_checkpoints c SET hash = e.hash FROM audit_events e WHERE e.sequence = c.sequence`)

	v := verify()
	brk, _ := v["firstBreak"].(map[string]any)
	if v["ok"] != false || brk["sequence"] != fmt.Sprint(first) || !strings.HasPrefix(fmt.Sprint(brk["kind"]), "checkpoint_") {
		t.Fatalf("GET /v1/audit/verify after the rewrite (first checkpoint %d): %v", first, v)
	}

	// Offline, with the public key read from transit and the file sink.
	cmd := osexec.Command(mesh.Binary("audit"), "verify", "-vault-transit-key", stack.AuditTransitKey,
		"-checkpoints", filepath.Join(mesh.AuditCheckpointDir(), "checkpoints.jsonl"))
	cmd.Env = []string{"DATABASE_URL=" + mesh.PostgresURL("agentidp_audit"), "VAULT_ADDR=" + mesh.VaultAddr(), "VAULT_TOKEN=" + mesh.VaultToken()}
	out, err := cmd.Output()
	var exit *osexec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("audit verify: %v %s", err, out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("audit verify: %s", out)
	}
	if b, _ := res["firstBreak"].(map[string]any); b["kind"] != "checkpoint_mismatch" || b["sequence"] != fmt.Sprint(first) {
		t.Fatalf("audit verify after the rewrite: %s", out)
	}

	restore()
	eventually(t, 10*time.Second, func() error {
		if v := verify(); v["ok"] != true {
			return fmt.Errorf("after the restore: %v", v)
		}
		return nil
	})
}
