package grpc_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/vault/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// Vault is down: writes answer UNAVAILABLE at once and leave nothing
// behind; revocation and warm verifications keep working.
func TestVaultDownIsUnavailable(t *testing.T) {
	t.Parallel()
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v})
	ctx := context.Background()
	agentID := e.newAgent()
	warm := e.create(agentID, 0)
	cold := e.create(agentID, 0)
	e.wantValid(agentID, warm.GetClientSecret())
	v.Kill()

	start := time.Now()
	_, err := e.creds.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	wantError(t, err, codes.Unavailable, "SERVICE_UNAVAILABLE", "")
	_, err = e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: warm.GetCredential().GetCredentialId()})
	wantError(t, err, codes.Unavailable, "SERVICE_UNAVAILABLE", "")
	_, err = e.verify(agentID, cold.GetClientSecret())
	wantError(t, err, codes.Unavailable, "SERVICE_UNAVAILABLE", "")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("failing took %s; an outage must answer fast", d)
	}
	// The digest cache and Postgres suffice for a warm credential.
	e.wantValid(agentID, warm.GetClientSecret())
	if _, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: cold.GetCredential().GetCredentialId()}); err != nil {
		t.Fatalf("revoke while Vault is down: %v", err)
	}
	// Nothing half-written: the refused writes left no pending row.
	page, err := e.creds.ListCredentials(ctx, &credentialsv1.ListCredentialsRequest{AgentId: agentID})
	if err != nil || len(page.GetCredentials()) != 2 {
		t.Fatalf("list: %v %v", page, err)
	}
	wantNoPending(t, e)
	if got := page.GetCredentials()[0].GetSecretVersion(); got != 1 {
		t.Fatalf("secret version %d after a failed rotation", got)
	}
}

func wantNoPending(t *testing.T, e *env) {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM credentials WHERE status = 'pending')
		+ (SELECT count(*) FROM credential_secrets WHERE status = 'pending')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d pending rows remain", n)
	}
}

type outcome struct {
	op, credentialID, secret string
	version                  int64
	err                      error
}

// burst runs concurrent creates and rotations against e while a
// dependency crashes.
type burst struct {
	e        *env
	agentIDs []string
	own      []*credentialsv1.IssuedCredential // one credential per worker, rotated by it
	mu       sync.Mutex
	results  []outcome
}

func newBurst(e *env, workers int) *burst {
	b := &burst{e: e, agentIDs: []string{e.newAgent(), e.newAgent(), e.newAgent()}}
	for i := range workers {
		b.own = append(b.own, e.create(b.agentIDs[i%len(b.agentIDs)], 0))
	}
	return b
}

// run lets the workers go, calls crash after a while, and stops them a
// while later. It returns when crash was called.
func (b *burst) run(crash func()) time.Time {
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range b.own {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agentID := b.agentIDs[w%len(b.agentIDs)]
			rotating := true
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ic *credentialsv1.IssuedCredential
				var err error
				o := outcome{op: "create"}
				if rotating && i%2 == 0 {
					o.op = "rotate"
					ic, err = b.e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{
						AgentId: agentID, CredentialId: b.own[w].GetCredential().GetCredentialId()})
					// A client that saw a rotation fail may find it still
					// pending for a while: this one moves on to creating.
					rotating = err == nil
				} else {
					ic, err = b.e.creds.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: agentID})
				}
				o.err = err
				if err == nil {
					o.credentialID, o.secret, o.version = ic.GetCredential().GetCredentialId(), ic.GetClientSecret(), ic.GetCredential().GetSecretVersion()
				}
				b.mu.Lock()
				b.results = append(b.results, o)
				b.mu.Unlock()
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	crash()
	crashedAt := time.Now()
	time.Sleep(400 * time.Millisecond)
	close(stop)
	wg.Wait()
	return crashedAt
}

// wantSucceededOrUnavailable checks every call's outcome.
func (b *burst) wantSucceededOrUnavailable(t *testing.T) {
	t.Helper()
	var ok, failed int
	for _, r := range b.results {
		if r.err == nil {
			ok++
			continue
		}
		failed++
		if st := status.Convert(r.err); st.Code() != codes.Unavailable {
			t.Errorf("%s failed with %v, want UNAVAILABLE", r.op, r.err)
		}
	}
	t.Logf("%d calls: %d succeeded, %d failed with UNAVAILABLE", len(b.results), ok, failed)
	if ok == 0 || failed == 0 {
		t.Fatalf("the burst did not straddle the crash (%d ok, %d failed)", ok, failed)
	}
}

// reconcile runs the reconciler once the pending rows are old enough, as
// every replica does at start-up and periodically.
func (b *burst) reconcile(t *testing.T, crashedAt time.Time, pendingTimeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	time.Sleep(time.Until(crashedAt.Add(pendingTimeout + 100*time.Millisecond)))
	var left int
	if err := b.e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM credentials WHERE status = 'pending')
		+ (SELECT count(*) FROM credential_secrets s JOIN credentials c USING (credential_id)
		   WHERE s.status = 'pending' AND c.status <> 'pending')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d half-written operations left for the reconciler (the others were undone by their own requests)", left)
	if err := b.e.svc.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	wantNoPending(t, b.e)
}

// wantComplete checks that every success is complete and nothing else
// exists: the secret last issued for each credential verifies (through
// Vault: the fresh replica has no cache), each credential is at the version
// its last successful call returned, and no credential exists that no
// successful call returned.
func (b *burst) wantComplete(t *testing.T, fresh *env) {
	t.Helper()
	latest := map[string]outcome{}
	for _, r := range b.results {
		if r.err == nil && r.version >= latest[r.credentialID].version {
			latest[r.credentialID] = r
		}
	}
	for _, ic := range b.own {
		id := ic.GetCredential().GetCredentialId()
		if _, ok := latest[id]; !ok {
			latest[id] = outcome{credentialID: id, secret: ic.GetClientSecret(), version: 1}
		}
	}
	rows, err := b.e.pool.Query(context.Background(), `SELECT credential_id::text, agent_id::text, secret_version FROM credentials`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
		var id, agent string
		var version int64
		if err := rows.Scan(&id, &agent, &version); err != nil {
			t.Fatal(err)
		}
		want, ok := latest[id]
		if !ok {
			t.Errorf("credential %s exists but no call that created it succeeded", id)
			continue
		}
		if version != want.version {
			t.Errorf("credential %s is at version %d, the last successful call returned %d", id, version, want.version)
		}
		fresh.wantValid(agent, want.secret)
	}
	if n != len(latest) {
		t.Errorf("%d credential rows, but %d credentials were successfully issued", n, len(latest))
	}
}

// Vault crashes in the middle of a burst of concurrent creates and
// rotations. Every call either succeeded completely (its secret verifies)
// or failed with UNAVAILABLE; after Vault restarts and the reconciler runs,
// the credential rows and the KV versions in Vault match one to one.
func TestVaultKilledDuringBurst(t *testing.T) {
	v := newRaftVault(t)
	e := newEnv(t, options{vault: v.Vault, vaultTimeout: 300 * time.Millisecond, pendingTimeout: time.Second})
	b := newBurst(e, 8)
	crashedAt := b.run(v.Kill)
	b.wantSucceededOrUnavailable(t)
	if err := v.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.reconcile(t, crashedAt, time.Second)
	fresh := newEnv(t, options{vault: v.Vault, dbURL: e.dbURL, noCache: true, noFeed: true})
	wantVaultMatchesRows(t, fresh, v.Vault)
	b.wantComplete(t, fresh)
}

// Postgres goes down in the middle of a burst: a request that wrote its
// secret to Vault but could not activate its row fails with UNAVAILABLE,
// and the reconciler removes that secret once Postgres is back.
func TestPostgresKilledDuringBurst(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "agentidp-pg-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg, err := testkit.StartPostgres(ctx, testkit.PostgresConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	url, err := pg.CreateDatabase(ctx, "credentials")
	if err != nil {
		t.Fatal(err)
	}
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v, dbURL: url, vaultTimeout: 300 * time.Millisecond, pendingTimeout: time.Second})
	b := newBurst(e, 8)
	crashedAt := b.run(pg.Stop) // fast shutdown: every connection is cut at once
	b.wantSucceededOrUnavailable(t)
	if pg, err = testkit.StartPostgres(ctx, testkit.PostgresConfig{Dir: dir, Port: pg.Port}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	b.reconcile(t, crashedAt, time.Second)
	fresh := newEnv(t, options{vault: v, dbURL: url, noCache: true, noFeed: true})
	wantVaultMatchesRows(t, fresh, v)
	b.wantComplete(t, fresh)
}

// wantVaultMatchesRows checks that every committed secret version has its
// KV version in Vault and that Vault holds nothing else under agentidp/.
func wantVaultMatchesRows(t *testing.T, e *env, v *testkit.Vault) {
	t.Helper()
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `
		SELECT c.agent_id, c.credential_id, coalesce(array_agg(s.vault_version ORDER BY s.vault_version)
			FILTER (WHERE s.vault_version IS NOT NULL), '{}')
		FROM credentials c JOIN credential_secrets s USING (credential_id)
		GROUP BY c.agent_id, c.credential_id`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{}
	for rows.Next() {
		var agentID, id uuid.UUID
		var versions []int64
		if err := rows.Scan(&agentID, &id, &versions); err != nil {
			t.Fatal(err)
		}
		want[agentID.String()+"/"+id.String()] = versions
	}
	got := vaultInventory(t, v)
	for key, versions := range want {
		if !slices.Equal(got[key], versions) {
			t.Errorf("credential %s: Postgres references KV versions %v, Vault holds %v", key, versions, got[key])
		}
	}
	for key, versions := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("Vault holds %s versions %v with no credential row", key, versions)
		}
	}
	if len(want) == 0 {
		t.Fatal("nothing to compare")
	}
}

// vaultInventory lists every agentidp credential path with its live versions.
func vaultInventory(t *testing.T, v *testkit.Vault) map[string][]int64 {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = v.Addr()
	client, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)
	list := func(path string) []string {
		s, err := client.Logical().List(path)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return nil
		}
		var out []string
		for _, k := range s.Data["keys"].([]any) {
			out = append(out, strings.TrimSuffix(k.(string), "/"))
		}
		return out
	}
	out := map[string][]int64{}
	for _, agent := range list("secret/metadata/agentidp/agents") {
		for _, cred := range list("secret/metadata/agentidp/agents/" + agent + "/credentials") {
			md, err := client.KVv2("secret").GetMetadata(context.Background(), "agentidp/agents/"+agent+"/credentials/"+cred)
			if err != nil {
				t.Fatal(err)
			}
			var live []int64
			for k, vm := range md.Versions {
				if !vm.Destroyed && vm.DeletionTime.IsZero() {
					var n int64
					fmt.Sscan(k, &n)
					live = append(live, n)
				}
			}
			sort.Slice(live, func(i, j int) bool { return live[i] < live[j] })
			if live == nil {
				live = []int64{}
			}
			out[agent+"/"+cred] = live
		}
	}
	return out
}

// The reconciler undoes what a crash between the Vault write and the
// activation left: a pending credential whose secret is in Vault, a
// pending rotation whose new KV version is in Vault, and one whose write
// never happened. Young pending rows are left alone.
func TestReconcilerUndoesHalfWrittenOperations(t *testing.T) {
	t.Parallel()
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v, vaultTimeout: 300 * time.Millisecond, pendingTimeout: time.Second})
	ctx := context.Background()
	agentID := e.newAgent()
	aid := parseUUID(t, agentID)
	old := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)

	// 1. A create that died after writing to Vault.
	orphanID := uuid.Must(uuid.NewV7())
	if err := e.store.CreatePending(ctx, credential.Credential{ID: orphanID, AgentID: aid, State: credential.StatePending,
		CreatedAt: old, SecretVersion: 1, VaultPath: e.kv.Path(aid, orphanID)}); err != nil {
		t.Fatal(err)
	}
	orphanSecret, _ := secret.New(orphanID)
	if _, err := e.kv.Write(ctx, aid, orphanID, secret.DigestOf(orphanSecret.Reveal()), 0); err != nil {
		t.Fatal(err)
	}
	// 2. A rotation that died after writing KV version 2.
	rotated := e.create(agentID, 0)
	rid := parseUUID(t, rotated.GetCredential().GetCredentialId())
	accept := func(credential.Credential) error { return nil }
	if _, _, err := e.store.BeginRotation(ctx, aid, rid, accept, e.kv.Path(aid, rid), old); err != nil {
		t.Fatal(err)
	}
	lost, _ := secret.New(rid)
	if _, err := e.kv.Write(ctx, aid, rid, secret.DigestOf(lost.Reveal()), 1); err != nil {
		t.Fatal(err)
	}
	// 3. A rotation that died before writing to Vault.
	quiet := e.create(agentID, 0)
	qid := parseUUID(t, quiet.GetCredential().GetCredentialId())
	if _, _, err := e.store.BeginRotation(ctx, aid, qid, accept, e.kv.Path(aid, qid), old); err != nil {
		t.Fatal(err)
	}
	// 4. A young pending rotation (its request may still be running).
	young := e.create(agentID, 0)
	yid := parseUUID(t, young.GetCredential().GetCredentialId())
	if _, _, err := e.store.BeginRotation(ctx, aid, yid, accept, e.kv.Path(aid, yid), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	// Pending rows are invisible: the lost secret does not verify, a
	// rotation of the young one is refused, the orphan is not listed.
	e.wantInvalid(agentID, lost.Reveal())
	e.wantInvalid(agentID, orphanSecret.Reveal())
	_, err := e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: yid.String()})
	wantError(t, err, codes.Aborted, "ROTATION_IN_PROGRESS", "")

	if err := e.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, live, _ := e.kv.Versions(ctx, aid, orphanID); cur != 0 || len(live) != 0 {
		t.Fatalf("orphan secret still in Vault: current %d, live %v", cur, live)
	}
	if cur, live, _ := e.kv.Versions(ctx, aid, rid); cur != 2 || !slices.Equal(live, []int64{1}) {
		t.Fatalf("rotated credential in Vault: current %d, live %v; want 2 and [1]", cur, live)
	}
	e.wantValid(agentID, rotated.GetClientSecret())
	e.wantValid(agentID, quiet.GetClientSecret())
	var pendingYoung int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM credential_secrets WHERE status = 'pending'`).Scan(&pendingYoung)
	if pendingYoung != 1 {
		t.Fatalf("%d pending versions remain, want only the young one", pendingYoung)
	}
	// A new rotation continues after the destroyed version (KV check-and-set).
	again := e.rotate(agentID, rid.String(), 0)
	if cur, live, _ := e.kv.Versions(ctx, aid, rid); cur != 3 || !slices.Equal(live, []int64{1, 3}) {
		t.Fatalf("after rotating again: current %d, live %v; want 3 and [1 3]", cur, live)
	}
	e.wantValid(agentID, again.GetClientSecret())
	// Once the young pending rotation is old enough, a rotation undoes it itself.
	time.Sleep(time.Second)
	e.rotate(agentID, yid.String(), 0)
	wantNoPending(t, e)
	wantVaultMatchesRows(t, e, v)
}
