package grpc_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/hashicorp/vault/api"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// vaultRoot is a root client of a test Vault (the test's own view, not the
// service's).
func vaultRoot(t *testing.T, v *testkit.Vault) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = v.Addr()
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	return c
}

// dumpVaultKV renders every version of every key under the KV v2 mount
// "secret" (data and metadata, as the API returns them), walking the whole
// mount with LIST, not only the paths the service is known to use.
func dumpVaultKV(t *testing.T, v *testkit.Vault) (dump string, versions int) {
	t.Helper()
	c := vaultRoot(t, v)
	var b strings.Builder
	var walk func(prefix string)
	walk = func(prefix string) {
		s, err := c.Logical().List("secret/metadata/" + prefix)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return
		}
		for _, k := range s.Data["keys"].([]any) {
			key := prefix + k.(string)
			if strings.HasSuffix(key, "/") {
				walk(key)
				continue
			}
			md, err := c.Logical().Read("secret/metadata/" + key)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(md.Data)
			b.WriteString("== metadata " + key + "\n" + string(raw) + "\n")
			for ver := range md.Data["versions"].(map[string]any) {
				d, err := c.Logical().ReadWithData("secret/data/"+key, map[string][]string{"version": {ver}})
				if err != nil {
					t.Fatal(err)
				}
				raw := []byte("null")
				if d != nil {
					raw, _ = json.Marshal(d.Data)
				}
				b.WriteString("== data " + key + " version " + ver + "\n" + string(raw) + "\n")
				versions++
			}
		}
	}
	walk("")
	return b.String(), versions
}

// secretForms are the ways a secret could be written down: itself, its
// body, its random part, and hex and base64 of its bytes.
func secretForms(s string) []string {
	b := []byte(s)
	return []string{s, s[len(secret.Prefix):], s[35:78], hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b)}
}

func wantNoSecretAtRest(t *testing.T, haystacks map[string]string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for where, hay := range haystacks {
			for i, n := range secretForms(s) {
				if strings.Contains(hay, n) {
					t.Errorf("a client secret (form %d) is readable in %s", i, where)
				}
			}
		}
	}
}

// Only verifiers at rest: after generating and rotating credentials (with
// and without grace, several times) through the real service, a dump of
// every version of every key of Vault's KV mount and of every row of every
// table of the credentials database holds none of the issued secrets in
// any form, while every one of them that should still verify does.
func TestOnlyVerifiersAtRest(t *testing.T) {
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v})
	ctx := context.Background()
	var secrets []string
	agentID := e.newAgent("agents:read")
	a := e.create(agentID, 0)
	b := e.create(agentID, 3600)
	secrets = append(secrets, a.GetClientSecret(), b.GetClientSecret())
	aid := a.GetCredential().GetCredentialId()
	r1 := e.rotate(agentID, aid, 3600)
	r2 := e.rotate(agentID, aid, 3600)
	r3 := e.rotate(agentID, b.GetCredential().GetCredentialId(), 0)
	secrets = append(secrets, r1.GetClientSecret(), r2.GetClientSecret(), r3.GetClientSecret())
	e.wantValid(agentID, r1.GetClientSecret()) // in grace
	e.wantValid(agentID, r2.GetClientSecret())
	e.wantValid(agentID, r3.GetClientSecret())
	e.wantInvalid(agentID, a.GetClientSecret()) // rotated out twice
	e.wantInvalid(agentID, b.GetClientSecret())
	if _, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: aid}); err != nil {
		t.Fatal(err)
	}
	e.shutdown()

	kv, versions := dumpVaultKV(t, v)
	if versions != 5 || strings.Count(kv, `"verifier":"sha256$`) != 5 {
		t.Fatalf("want 5 KV versions, each holding a verifier; got %d:\n%s", versions, kv)
	}
	if strings.Contains(kv, "client_secret") {
		t.Fatalf("a KV version still has a client_secret field:\n%s", kv)
	}
	wantNoSecretAtRest(t, map[string]string{"Vault KV": kv, "PostgreSQL": dumpDatabase(t, e.dbURL)}, secrets)
}

// A Vault entry written before verifiers (KV data {"client_secret": ...})
// keeps verifying, and its first successful verification replaces it: a
// new KV version holds the verifier, the secret version references it, and
// the plaintext version is destroyed. Afterwards the dump holds no secret,
// and the secret still verifies (also on a fresh replica, without cache).
func TestLegacyVaultSecretMigratesOnVerify(t *testing.T) {
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v})
	agentID := e.newAgent("agents:read")
	cur, prev := legacyVaultCredential(t, e, v, agentID)
	e.wantValid(agentID, cur)
	e.wantValid(agentID, prev) // the rotated-out secret, in its grace period

	kv, _ := dumpVaultKV(t, v)
	if strings.Contains(kv, "client_secret") {
		t.Fatalf("a plaintext KV version survived the verification:\n%s", kv)
	}
	wantNoSecretAtRest(t, map[string]string{"Vault KV": kv, "PostgreSQL": dumpDatabase(t, e.dbURL)}, []string{cur, prev})
	if got := gather(t, e.reg); !strings.Contains(got, `agentidp_credentials_vault_secrets_migrated_total{trigger="verify"} 2`) {
		t.Fatalf("migration metric:\n%s", got)
	}
	// Verifies again, here (from the cache) and on a replica without one.
	e.wantValid(agentID, cur)
	fresh := newEnv(t, options{vault: v, dbURL: e.dbURL, noCache: true, noFeed: true})
	fresh.wantValid(agentID, cur)
	fresh.wantValid(agentID, prev)
	fresh.wantInvalid(agentID, "agentidp_sk_"+strings.Repeat("0", 72))
}

// The operator command's core walks every credential: it migrates the
// referenced plaintext versions (of an active, a revoked, and an old
// rotated-out secret version alike), destroys unreferenced plaintext, and a
// second run finds nothing to do.
func TestMigrateVaultCommandIsIdempotent(t *testing.T) {
	v := testkit.NewVault(t)
	e := newEnv(t, options{vault: v})
	ctx := context.Background()
	agentID := e.newAgent("agents:read")
	cur, prev := legacyVaultCredential(t, e, v, agentID)
	cur2, prev2 := legacyVaultCredential(t, e, v, agentID)
	fresh := e.create(agentID, 0) // a verifier already
	var revokedID string
	if err := e.pool.QueryRow(ctx, `SELECT credential_id::text FROM credentials ORDER BY credential_id LIMIT 1`).Scan(&revokedID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: revokedID}); err != nil {
		t.Fatal(err)
	}
	// An unreferenced plaintext version (left by an old writer).
	c := vaultRoot(t, v)
	path := "agentidp/agents/" + agentID + "/credentials/" + fresh.GetCredential().GetCredentialId()
	orphan, _ := secret.New(uuid.Must(uuid.Parse(fresh.GetCredential().GetCredentialId())))
	if _, err := c.KVv2("secret").Put(ctx, path, map[string]any{"client_secret": orphan.Reveal()}); err != nil {
		t.Fatal(err)
	}

	dry, err := e.svc.MigrateVault(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Migrated != 4 || dry.Destroyed != 1 || dry.Verifiers != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	if kv, _ := dumpVaultKV(t, v); strings.Count(kv, "client_secret") != 5 {
		t.Fatal("the dry run changed Vault")
	}
	r, err := e.svc.MigrateVault(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Credentials != 3 || r.Migrated != 4 || r.Destroyed != 1 || r.Verifiers != 1 || r.Failed != 0 {
		t.Fatalf("first run: %+v", r)
	}
	again, err := e.svc.MigrateVault(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Migrated != 0 || again.Destroyed != 0 || again.Verifiers != 5 {
		t.Fatalf("second run: %+v", again)
	}
	kv, _ := dumpVaultKV(t, v)
	if strings.Contains(kv, "client_secret") {
		t.Fatalf("plaintext left:\n%s", kv)
	}
	wantNoSecretAtRest(t, map[string]string{"Vault KV": kv, "PostgreSQL": dumpDatabase(t, e.dbURL)},
		[]string{cur, prev, cur2, prev2, orphan.Reveal()})
	// The legacy credential still active verifies through its migrated
	// verifier; the revoked one does not.
	active, revoked := cur2, cur
	if id, _ := secret.Parse(cur2); id.String() == revokedID {
		active, revoked = cur, cur2
	}
	fresh2 := newEnv(t, options{vault: v, dbURL: e.dbURL, noCache: true, noFeed: true})
	fresh2.wantValid(agentID, active)
	fresh2.wantInvalid(agentID, revoked)
	fresh2.wantValid(agentID, fresh.GetClientSecret())
}

// legacyVaultCredential makes a credential as the service wrote them before
// verifiers: created and rotated with a grace period through the service,
// then each KV version replaced by one holding {"client_secret": <secret>}
// and re-pointed at in Postgres (what the old code had written). It returns
// the current and the previous secret.
func legacyVaultCredential(t *testing.T, e *env, v *testkit.Vault, agentID string) (cur, prev string) {
	t.Helper()
	ctx := context.Background()
	ic := e.create(agentID, 0)
	id := ic.GetCredential().GetCredentialId()
	r := e.rotate(agentID, id, 3600)
	c := vaultRoot(t, v)
	path := "agentidp/agents/" + agentID + "/credentials/" + id
	for version, s := range map[int64]string{1: ic.GetClientSecret(), 2: r.GetClientSecret()} {
		md, err := c.KVv2("secret").GetMetadata(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.KVv2("secret").Put(ctx, path, map[string]any{"client_secret": s, "agent_id": agentID, "credential_id": id},
			api.WithCheckAndSet(md.CurrentVersion))
		if err != nil {
			t.Fatal(err)
		}
		var old int64
		if err := e.pool.QueryRow(ctx, `UPDATE credential_secrets s SET vault_version = $3
			FROM credential_secrets o WHERE s.credential_id = $1 AND s.version = $2
			AND o.credential_id = s.credential_id AND o.version = s.version RETURNING o.vault_version`,
			id, version, out.VersionMetadata.Version).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if err := c.KVv2("secret").Destroy(ctx, path, []int{int(old)}); err != nil {
			t.Fatal(err)
		}
	}
	if kv, _ := dumpVaultKV(t, v); !strings.Contains(kv, strconv.Quote(ic.GetClientSecret())) {
		t.Fatal("the legacy entry was not written")
	}
	return ic.GetClientSecret(), r.GetClientSecret()
}
