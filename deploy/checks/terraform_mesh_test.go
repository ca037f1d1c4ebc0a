package checks

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// meshFileVars are config.Mesh's certificate file settings (TLS_*_FILE):
// the three files every process needs.
func meshFileVars(t *testing.T) []string {
	t.Helper()
	var out []string
	for k := range meshEnv {
		if strings.HasPrefix(k, "TLS_") && strings.HasSuffix(k, "_FILE") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) != 3 {
		t.Fatalf("config.Mesh names %v; want the certificate, key and CA files", out)
	}
	return out
}

// computeLocals returns every local of one compute module by name, and its
// module calls (name → body).
func computeLocals(t *testing.T, root, provider string) (map[string]hclsyntax.Expression, map[string]*hclsyntax.Body) {
	t.Helper()
	locals := map[string]hclsyntax.Expression{}
	calls := map[string]*hclsyntax.Body{}
	files, _ := filepath.Glob(filepath.Join(root, tfModules, "agentidp", "compute", provider, "*.tf"))
	for _, f := range files {
		file, diags := hclparse.NewParser().ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "locals":
				for name, attr := range b.Body.Attributes {
					locals[name] = attr.Expr
				}
			case b.Type == "module" && len(b.Labels) == 1:
				calls[b.Labels[0]] = b.Body
			}
		}
	}
	return locals, calls
}

// isTraversal reports whether expr is exactly the reference want ("local.mesh_env").
func isTraversal(expr hclsyntax.Expression, want string) bool {
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return false
	}
	var parts []string
	for _, step := range st.Traversal {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return false
		}
	}
	return strings.Join(parts, ".") == want
}

// TestTerraformMeshCerts: on both clouds every service and the bootstrap
// get their mesh certificate files (docs/deploy.md, "Mesh certificates"):
// the compute module issues one certificate per identity of the mesh
// through agentidp/mesh-ca, its local.env hands every service the three
// files (local.mesh_env, merged unconditionally), the bootstrap's
// environment names them too, and authz fetches the JWKS over https (it
// refuses http once the mesh is TLS). The CA module issues what libs/mtls
// expects: ECDSA P-256, URI SAN spiffe://<trust domain>/<identity>, client
// and server auth.
func TestTerraformMeshCerts(t *testing.T) {
	m := loadMesh(t)
	fileVars := meshFileVars(t)
	cat, _ := loadCatalog(t, m)
	wantIDs := []string{"bootstrap"}
	for name := range cat {
		wantIDs = append(wantIDs, name)
	}
	sort.Strings(wantIDs)
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			locals, calls := computeLocals(t, m.Root, p)

			// local.mesh_env: exactly the three files, absolute paths.
			obj, ok := locals["mesh_env"].(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatalf("compute/%s: no local.mesh_env object literal (the mesh certificate files every process reads)", p)
			}
			var keys []string
			for _, item := range obj.Items {
				k := hcl.ExprAsKeyword(item.KeyExpr)
				keys = append(keys, k)
				v, d := item.ValueExpr.Value(nil)
				if d.HasErrors() || v.Type() != cty.String || !filepath.IsAbs(v.AsString()) {
					t.Errorf("local.mesh_env.%s must be a literal absolute path", k)
				}
			}
			sort.Strings(keys)
			if !slices.Equal(keys, fileVars) {
				t.Errorf("local.mesh_env sets %v, want %v", keys, fileVars)
			}

			// local.env merges it for every service.
			merged := false
			if env, ok := locals["env"]; ok {
				hclsyntax.VisitAll(env, func(n hclsyntax.Node) hcl.Diagnostics {
					if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && call.Name == "merge" {
						for _, a := range call.Args {
							merged = merged || isTraversal(a, "local.mesh_env")
						}
					}
					return nil
				})
			}
			if !merged {
				t.Errorf("compute/%s: local.env does not merge local.mesh_env as such: a service would start without its certificate files and refuse to run", p)
			}

			// One identity per catalog service, plus the bootstrap.
			idv, d := locals["mesh_identities"].Value(nil)
			if d.HasErrors() {
				t.Fatalf("compute/%s: local.mesh_identities must be a literal list", p)
			}
			if got := ctyStrings(idv); !slices.Equal(got, wantIDs) {
				t.Errorf("local.mesh_identities = %v, want the catalog's services and bootstrap %v", got, wantIDs)
			}
			issued := false
			for name, body := range calls {
				src, ok := body.Attributes["source"]
				if !ok {
					continue
				}
				sv, _ := src.Expr.Value(nil)
				if sv.Type() != cty.String || filepath.Base(sv.AsString()) != "mesh-ca" {
					continue
				}
				ids, ok := body.Attributes["identities"]
				if !ok || !isTraversal(ids.Expr, "local.mesh_identities") {
					t.Errorf("module %s: identities must be local.mesh_identities", name)
				}
				issued = true
			}
			if !issued {
				t.Errorf("compute/%s calls no agentidp/mesh-ca module: nothing issues the certificates", p)
			}

			// The bootstrap names its files too.
			if bobj, ok := locals["bootstrap_env"].(*hclsyntax.ObjectConsExpr); ok {
				var bkeys []string
				for _, item := range bobj.Items {
					bkeys = append(bkeys, hcl.ExprAsKeyword(item.KeyExpr))
				}
				for _, v := range fileVars {
					if !slices.Contains(bkeys, v) {
						t.Errorf("local.bootstrap_env does not set %s: agentidp bootstrap would not reach the mesh", v)
					}
				}
			} else {
				t.Errorf("compute/%s: no local.bootstrap_env object literal", p)
			}

			// JWKS over https.
			if env, ok := locals["env"]; ok {
				hclsyntax.VisitAll(env, func(n hclsyntax.Node) hcl.Diagnostics {
					obj, ok := n.(*hclsyntax.ObjectConsExpr)
					if !ok {
						return nil
					}
					for _, item := range obj.Items {
						if hcl.ExprAsKeyword(item.KeyExpr) != "JWKS_URL" {
							continue
						}
						tmpl, ok := item.ValueExpr.(*hclsyntax.TemplateExpr)
						if !ok || len(tmpl.Parts) == 0 {
							t.Errorf("JWKS_URL is not a URL template")
							continue
						}
						if lit, ok := tmpl.Parts[0].(*hclsyntax.LiteralValueExpr); !ok || !strings.HasPrefix(lit.Val.AsString(), "https://") {
							t.Errorf("JWKS_URL must be https:// (authz refuses http when the mesh is TLS)")
						}
					}
					return nil
				})
			}
		})
	}

	// The certificates' shape: libs/mtls's.
	src, err := os.ReadFile(filepath.Join(m.Root, "libs", "mtls", "mtls.go"))
	if err != nil {
		t.Fatal(err)
	}
	td := regexp.MustCompile(`TrustDomain\s*=\s*"([^"]+)"`).FindSubmatch(src)
	if td == nil {
		t.Fatal("libs/mtls: no TrustDomain constant")
	}
	ca, err := os.ReadFile(filepath.Join(m.Root, tfModules, "agentidp", "mesh-ca", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	caLocals := plainLocals(t, filepath.Join(m.Root, tfModules, "agentidp", "mesh-ca", "main.tf"))
	if v, ok := caLocals["trust_domain"]; !ok || v.AsString() != string(td[1]) {
		t.Errorf("agentidp/mesh-ca local.trust_domain is not libs/mtls's %q", td[1])
	}
	for _, want := range []string{
		`uri_sans        = ["spiffe://${local.trust_domain}/${each.key}"]`,
		`algorithm   = "ECDSA"`,
		`ecdsa_curve = "P256"`,
		`allowed_uses        = ["digital_signature", "client_auth", "server_auth"]`,
	} {
		if !strings.Contains(string(ca), want) {
			t.Errorf("agentidp/mesh-ca/main.tf lacks %s", want)
		}
	}
}

// TestTerraformDatabaseLogins: on both clouds a service with a database
// gets MIGRATE_DATABASE_URL (its database's owner, for the migrations) and
// DATABASE_URL (a login of its own that is not the owner;
// docs/architecture.md, "Database roles"): the compute modules' secrets set
// both, the rds modules offer both, and the rds modules' DATABASE_URL names
// the login agentidp_<service>_app with a password of its own, not the
// owner's.
func TestTerraformDatabaseLogins(t *testing.T) {
	m := loadMesh(t)
	cat, _ := loadCatalog(t, m)
	for name, e := range cat {
		if slices.Contains(e.Stores, "postgres") && !m.Services[name].knows("MIGRATE_DATABASE_URL") {
			t.Errorf("%s uses PostgreSQL but does not read MIGRATE_DATABASE_URL: Terraform hands it the owner and a confined login", name)
		}
	}
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			secrets := computeEnvNames(t, m, p)["secrets"]
			for _, v := range []string{"DATABASE_URL", "MIGRATE_DATABASE_URL"} {
				if !secrets[v] {
					t.Errorf("compute/%s: local.secrets does not set %s for the services with a database", p, v)
				}
			}
			dir := filepath.Join(m.Root, tfModules, "rds", p)
			mod := loadTFModule(t, m.Root, filepath.ToSlash(filepath.Join(tfModules, "rds", p)))
			for _, o := range []string{"database_url_secrets", "migrate_database_url_secrets"} {
				if _, ok := mod.Inspect.Outputs[o]; !ok {
					t.Errorf("rds/%s has no output %s", p, o)
				}
			}
			// The URLs each secret version holds, as source text.
			urls := map[string]string{}
			for path, file := range mod.Files {
				src, _ := os.ReadFile(path)
				for _, b := range file.Body.(*hclsyntax.Body).Blocks {
					if b.Type != "resource" || len(b.Labels) != 2 || !strings.HasSuffix(b.Labels[0], "_secret_version") {
						continue
					}
					for _, attr := range []string{"secret_string", "secret_data"} {
						if a, ok := b.Body.Attributes[attr]; ok {
							r := a.Expr.Range()
							urls[b.Labels[1]] = string(src[r.Start.Byte:r.End.Byte])
						}
					}
				}
			}
			login, owner := urls["database_url"], urls["migrate_database_url"]
			if login == "" || owner == "" {
				t.Fatalf("rds/%s (%s): no database_url and migrate_database_url secret versions", p, dir)
			}
			if !strings.Contains(login, "}_app:${random_password.login[") {
				t.Errorf("rds/%s: DATABASE_URL is %s; want the login agentidp_<service>_app with random_password.login", p, login)
			}
			if strings.Contains(owner, "_app:") || strings.Contains(owner, "random_password.login") {
				t.Errorf("rds/%s: MIGRATE_DATABASE_URL is %s; want the owner agentidp_<service>", p, owner)
			}
		})
	}
	// Who creates the logins: db-init on both clouds, confined.
	for _, p := range providers {
		script, err := os.ReadFile(filepath.Join(m.Root, tfModules, "agentidp", "compute", p, "db-init.sh"))
		if err != nil {
			t.Errorf("compute/%s: no db-init.sh creating the services' logins: %v", p, err)
			continue
		}
		if !strings.Contains(string(script), "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS") || !strings.Contains(string(script), "GRANT CONNECT ON DATABASE") {
			t.Errorf("compute/%s/db-init.sh does not create the login confined (NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS) with CONNECT on its database", p)
		}
	}
}
