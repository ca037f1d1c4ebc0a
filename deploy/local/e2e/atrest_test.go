package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
)

// Only verifiers at rest, through the whole mesh: credentials generated
// and rotated through the gateway, each secret used at /oauth2/token (the
// token service's client authentication against the credentials service);
// then every version of every key of Vault's KV mount and every row of
// every table of the credentials database hold none of those secrets (nor
// the bootstrap admin's) in any form.
func TestNoClientSecretAtRest(t *testing.T) {
	skipShort(t)
	id := register(t, newAgent("at-rest"))["agentId"].(string)
	base := "/v1/agents/" + id + "/credentials"
	secrets := []string{admin.ClientSecret}
	var credIDs []string
	for range 2 {
		r := call(t, "POST", base, map[string]any{})
		expect(t, r, http.StatusCreated)
		issued := r.JSON(t)
		secrets = append(secrets, issued["clientSecret"].(string))
		credIDs = append(credIDs, issued["credential"].(map[string]any)["credentialId"].(string))
	}
	r := call(t, "POST", base+"/"+credIDs[0]+":rotate", map[string]any{"gracePeriodSeconds": 600})
	expect(t, r, http.StatusOK)
	secrets = append(secrets, r.JSON(t)["clientSecret"].(string))
	for _, s := range secrets[1:] { // the rotated-out secret is in its grace period
		if _, err := fetchToken(id, s, ""); err != nil {
			t.Fatalf("a valid secret got no token: %v", err)
		}
	}

	kv := dumpKV(t)
	if !strings.Contains(kv, credIDs[0]) || !strings.Contains(kv, `"verifier":"sha256$`) {
		t.Fatalf("the KV dump does not hold this test's verifiers (is it complete?)")
	}
	db := dumpTables(t, mesh.PostgresURL("agentidp_credentials"))
	if !strings.Contains(db, credIDs[1]) {
		t.Fatal("the database dump does not hold this test's credentials (is it complete?)")
	}
	for _, s := range secrets {
		b := []byte(s)
		for i, form := range []string{s, s[len("agentidp_sk_"):], hex.EncodeToString(b),
			base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b)} {
			if strings.Contains(kv, form) {
				t.Errorf("a client secret (form %d) is readable in Vault", i)
			}
			if strings.Contains(db, form) {
				t.Errorf("a client secret (form %d) is readable in PostgreSQL", i)
			}
		}
	}
}

// dumpKV renders every version (data and metadata) of every key under the
// KV v2 mount "secret", walking it with LIST.
func dumpKV(t *testing.T) string {
	t.Helper()
	conf := vault.DefaultConfig()
	conf.Address = mesh.VaultAddr()
	c, err := vault.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(mesh.VaultToken())
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
			b.WriteString(key + " metadata " + string(raw) + "\n")
			for ver := range md.Data["versions"].(map[string]any) {
				d, err := c.Logical().ReadWithData("secret/data/"+key, map[string][]string{"version": {ver}})
				if err != nil {
					t.Fatal(err)
				}
				if d != nil {
					raw, _ = json.Marshal(d.Data)
					b.WriteString(key + " version " + ver + " " + string(raw) + "\n")
				}
			}
		}
	}
	walk("")
	return b.String()
}

// dumpTables renders every row of every table of the database's schemas.
func dumpTables(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.schema, &tb.name)
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tb := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tb.schema, tb.name}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== " + tb.schema + "." + tb.name + "\n" + strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}
