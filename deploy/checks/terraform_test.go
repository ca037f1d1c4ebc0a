package checks

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"

	"github.com/sentryagent/agentidp/libs/redisacl"
)

// Terraform cannot run here; these tests hold its files to what `terraform
// validate` would check about module wiring, and to the services' source.

const (
	tfRoot    = "terraform"
	tfModules = "terraform/modules"
)

// providers are the environments, each a thin wrapper over the shared modules.
var providers = []string{"aws", "gcp"}

// metaArgs are module-call arguments that are not the module's variables.
var metaArgs = []string{"source", "version", "count", "for_each", "providers", "depends_on"}

// tfDirs returns every directory holding .tf files, relative to the repository.
func tfDirs(t *testing.T, root string) []string {
	t.Helper()
	set := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, tfRoot), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tf") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			set[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// tfModule is one module directory: tfconfig's view plus the arguments of
// each module call (which tfconfig does not report).
type tfModule struct {
	Dir      string // relative to the repository
	Inspect  *tfconfig.Module
	CallArgs map[string][]string // module call name → argument names
	Files    map[string]*hcl.File
}

func loadTFModule(t *testing.T, root, dir string) *tfModule {
	t.Helper()
	mod, diags := tfconfig.LoadModule(filepath.Join(root, dir))
	if diags.HasErrors() {
		t.Fatalf("%s: %v", dir, diags.Err())
	}
	out := &tfModule{Dir: dir, Inspect: mod, CallArgs: map[string][]string{}, Files: map[string]*hcl.File{}}
	parser := hclparse.NewParser()
	files, _ := filepath.Glob(filepath.Join(root, dir, "*.tf"))
	for _, f := range files {
		file, diags := parser.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		out.Files[f] = file
		body := file.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			if b.Type != "module" || len(b.Labels) != 1 {
				continue
			}
			var args []string
			for name := range b.Body.Attributes {
				args = append(args, name)
			}
			sort.Strings(args)
			out.CallArgs[b.Labels[0]] = args
		}
	}
	return out
}

// TestTerraformParses parses every .tf file with HCL (and checks it is
// formatted) and loads every module directory with terraform-config-inspect.
func TestTerraformParses(t *testing.T) {
	m := loadMesh(t)
	dirs := tfDirs(t, m.Root)
	if len(dirs) == 0 {
		t.Fatal("no Terraform under terraform/")
	}
	parser := hclparse.NewParser()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(m.Root, dir, "*.tf"))
		for _, f := range files {
			if _, diags := parser.ParseHCLFile(f); diags.HasErrors() {
				t.Errorf("%v", diags)
				continue
			}
			// What `terraform fmt -check` holds.
			if src, err := os.ReadFile(f); err == nil && !bytes.Equal(hclwrite.Format(src), src) {
				t.Errorf("%s is not formatted (terraform fmt)", f)
			}
		}
		if _, diags := tfconfig.LoadModule(filepath.Join(m.Root, dir)); diags.HasErrors() {
			t.Errorf("%s: %v", dir, diags.Err())
		}
	}
}

// TestTerraformVariables: every variable has a type and a description, every
// output a description.
func TestTerraformVariables(t *testing.T) {
	m := loadMesh(t)
	for _, dir := range tfDirs(t, m.Root) {
		mod := loadTFModule(t, m.Root, dir)
		for name, v := range mod.Inspect.Variables {
			if v.Type == "" {
				t.Errorf("%s: variable %s has no type", dir, name)
			}
			if strings.TrimSpace(v.Description) == "" {
				t.Errorf("%s: variable %s has no description", dir, name)
			}
		}
		for name, o := range mod.Inspect.Outputs {
			if strings.TrimSpace(o.Description) == "" {
				t.Errorf("%s: output %s has no description", dir, name)
			}
		}
	}
}

// TestTerraformModuleCalls: every module call points at an existing local
// module, passes each of its required variables and nothing it does not
// declare.
func TestTerraformModuleCalls(t *testing.T) {
	m := loadMesh(t)
	calls := 0
	for _, dir := range tfDirs(t, m.Root) {
		mod := loadTFModule(t, m.Root, dir)
		for name, call := range mod.Inspect.ModuleCalls {
			calls++
			where := dir + ": module " + name
			if !strings.HasPrefix(call.Source, "./") && !strings.HasPrefix(call.Source, "../") {
				t.Errorf("%s: source %q is not a local module path", where, call.Source)
				continue
			}
			target := filepath.ToSlash(filepath.Join(dir, call.Source))
			if tf, _ := filepath.Glob(filepath.Join(m.Root, target, "*.tf")); len(tf) == 0 {
				t.Errorf("%s: source %s holds no module", where, target)
				continue
			}
			callee := loadTFModule(t, m.Root, target)
			args := mod.CallArgs[name]
			for vname, v := range callee.Inspect.Variables {
				if v.Required && !slices.Contains(args, vname) {
					t.Errorf("%s: required variable %s of %s is not passed", where, vname, target)
				}
			}
			for _, a := range args {
				if slices.Contains(metaArgs, a) {
					continue
				}
				if _, ok := callee.Inspect.Variables[a]; !ok {
					t.Errorf("%s: passes %s, which %s does not declare", where, a, target)
				}
			}
		}
	}
	if calls == 0 {
		t.Fatal("no module calls found")
	}
}

// family names a shared module by its path under terraform/modules with the
// provider directory removed: "rds", "agentidp/compute", "agentidp/catalog".
func family(modulePath string) (fam, provider string) {
	rel := strings.TrimPrefix(modulePath, tfModules+"/")
	parts := strings.Split(rel, "/")
	if last := parts[len(parts)-1]; slices.Contains(providers, last) {
		return strings.Join(parts[:len(parts)-1], "/"), last
	}
	return rel, ""
}

// TestTerraformEnvironments: environments/aws and environments/gcp are thin
// wrappers (module calls, no resources of their own) over the same shared
// module families, each with its own provider's implementation, and both
// implementations of a family offer the same outputs.
func TestTerraformEnvironments(t *testing.T) {
	m := loadMesh(t)
	families := map[string][]string{}
	for _, p := range providers {
		dir := tfRoot + "/environments/" + p
		mod := loadTFModule(t, m.Root, dir)
		if n := len(mod.Inspect.ManagedResources) + len(mod.Inspect.DataResources); n > 0 {
			t.Errorf("%s declares %d resources; environments only wire the shared modules", dir, n)
		}
		if _, err := os.Stat(filepath.Join(m.Root, dir, "README.md")); err != nil {
			t.Errorf("%s has no README.md", dir)
		}
		var fams []string
		for name, call := range mod.Inspect.ModuleCalls {
			target := filepath.ToSlash(filepath.Join(dir, call.Source))
			if !strings.HasPrefix(target, tfModules+"/") {
				t.Errorf("%s: module %s is not one of the shared modules (%s)", dir, name, target)
				continue
			}
			fam, prov := family(target)
			if prov != "" && prov != p {
				t.Errorf("%s: module %s uses the %s implementation", dir, name, prov)
			}
			fams = append(fams, fam)
		}
		sort.Strings(fams)
		families[p] = fams
		for _, want := range []string{"agentidp/catalog", "agentidp/compute", "agentidp/network", "lb", "rds", "redis"} {
			if !slices.Contains(fams, want) {
				t.Errorf("%s does not use the shared module %s", dir, want)
			}
		}
	}
	if !slices.Equal(families["aws"], families["gcp"]) {
		t.Errorf("the environments use different module families: aws %v, gcp %v", families["aws"], families["gcp"])
	}
	// One interface per family: the same outputs from each implementation.
	for _, fam := range families["aws"] {
		impls := map[string][]string{}
		for _, p := range providers {
			dir := tfModules + "/" + fam + "/" + p
			if _, err := os.Stat(filepath.Join(m.Root, dir)); err != nil {
				continue // provider-free (the catalog)
			}
			mod := loadTFModule(t, m.Root, dir)
			var outs []string
			for o := range mod.Inspect.Outputs {
				outs = append(outs, o)
			}
			sort.Strings(outs)
			impls[p] = outs
		}
		if len(impls) == len(providers) && !slices.Equal(impls["aws"], impls["gcp"]) {
			t.Errorf("%s: the implementations differ in outputs: aws %v, gcp %v", fam, impls["aws"], impls["gcp"])
		}
	}
}

// catalogEntry mirrors one service of terraform/modules/agentidp/catalog.
type catalogEntry struct {
	Image             string
	Port, AdminPort   int
	Protocol          string
	Routed            bool
	Calls, Stores     []string
	Env, Inputs       map[string]string
	Min, Max, CPU, Mi int
}

func ctyStrings(v cty.Value) []string {
	var out []string
	if v.IsNull() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	sort.Strings(out)
	return out
}

func ctyMap(v cty.Value) map[string]string {
	out := map[string]string{}
	if v.IsNull() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		out[k.AsString()] = e.AsString()
	}
	return out
}

func ctyInt(v cty.Value) int {
	if v.IsNull() {
		return 0
	}
	i, _ := v.AsBigFloat().Int64()
	return int(i)
}

// loadCatalog evaluates the catalog's locals: plain data, no references.
func loadCatalog(t *testing.T, m *mesh) (map[string]catalogEntry, map[string]cty.Value) {
	t.Helper()
	path := filepath.Join(m.Root, tfModules, "agentidp", "catalog", "main.tf")
	file, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	locals := map[string]cty.Value{}
	for _, b := range file.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "locals" {
			continue
		}
		for name, attr := range b.Body.Attributes {
			v, diags := attr.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("%s: local.%s must be plain data (deploy/checks evaluates it): %v", path, name, diags)
			}
			locals[name] = v
		}
	}
	svcs, ok := locals["services"]
	if !ok {
		t.Fatalf("%s: no local.services", path)
	}
	out := map[string]catalogEntry{}
	for it := svcs.ElementIterator(); it.Next(); {
		k, v := it.Element()
		get := func(attr string) cty.Value {
			if !v.Type().HasAttribute(attr) {
				t.Fatalf("catalog: %s has no %s", k.AsString(), attr)
			}
			return v.GetAttr(attr)
		}
		out[k.AsString()] = catalogEntry{
			Image: get("image").AsString(), Port: ctyInt(get("port")), AdminPort: ctyInt(get("admin_port")),
			Protocol: get("protocol").AsString(), Routed: get("routed").True(),
			Calls: ctyStrings(get("calls")), Stores: ctyStrings(get("stores")),
			Env: ctyMap(get("env")), Inputs: ctyMap(get("inputs")),
			Min: ctyInt(get("min")), Max: ctyInt(get("max")), CPU: ctyInt(get("cpu")), Mi: ctyInt(get("memory")),
		}
	}
	return out, locals
}

// storeEnv are the variables compute modules set for a store.
var storeEnv = map[string][]string{
	"postgres": {"DATABASE_URL", "MIGRATE_DATABASE_URL"},
	"redis":    {"REDIS_URL"},
	"vault":    {"VAULT_ADDR", "VAULT_TOKEN", "VAULT_MOUNT"},
}

// TestTerraformCatalog holds the provider-free catalog to the source: every
// deployable, its ports, what it calls, the stores it needs, and only
// variables it reads.
func TestTerraformCatalog(t *testing.T) {
	m := loadMesh(t)
	cat, locals := loadCatalog(t, m)
	envoyImg := loadEnvoyImage(t)
	computeEnv := map[string]map[string]map[string]bool{}
	for _, p := range providers {
		computeEnv[p] = computeEnvNames(t, m, p)
	}
	for name := range cat {
		if m.Services[name] == nil {
			t.Errorf("catalog: %s is not a deployable in go.work", name)
		}
	}
	for _, name := range m.Names() {
		s := m.Services[name]
		e, ok := cat[name]
		if !ok {
			t.Errorf("catalog: no entry for %s", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			if e.Image != name {
				t.Errorf("image %q, want %q", e.Image, name)
			}
			if e.Port != s.ServePort() || e.AdminPort != s.AdminPort() {
				t.Errorf("ports %d/%d, want %d (%s) / %d (%s)", e.Port, e.AdminPort, s.ServePort(), s.ServeVar(), s.AdminPort(), s.AdminVar())
			}
			wantProto := "grpc"
			if s.ServeVar() == "HTTP_ADDR" {
				wantProto = "http"
			}
			if e.Protocol != wantProto {
				t.Errorf("protocol %q, want %q", e.Protocol, wantProto)
			}
			if e.Routed != slices.Contains(m.Routed, name) {
				t.Errorf("routed=%v, the gateway's catalog says %v", e.Routed, slices.Contains(m.Routed, name))
			}
			var deps []string
			for dep, v := range m.Deps(s) {
				deps = append(deps, dep)
				if v == strings.ToUpper(dep)+"_ADDR" {
					continue
				}
				// Any other name (a URL such as JWKS_URL) is set by the
				// compute modules' local.env, or by nothing.
				for _, p := range providers {
					if !computeEnv[p]["env"][v] {
						t.Errorf("%s names %s; compute/%s sets <NAME>_ADDR for calls, and its local.env does not set %s: extend it", v, dep, p, v)
					}
				}
			}
			sort.Strings(deps)
			if !slices.Equal(e.Calls, deps) {
				t.Errorf("calls %v, its settings dial %v", e.Calls, deps)
			}
			if !slices.Equal(e.Stores, s.Stores()) {
				t.Errorf("stores %v, its settings need %v", e.Stores, s.Stores())
			}
			var names []string
			for k := range e.Env {
				names = append(names, k)
			}
			for k := range e.Inputs {
				names = append(names, k)
			}
			for _, st := range e.Stores {
				names = append(names, storeEnv[st]...)
			}
			checkEnvNames(t, s, names)
			for _, v := range s.listenVars(m) {
				want := "0.0.0.0:" + strconv.Itoa(s.defaultPort(v))
				if v == "XDS_ADDR" {
					want = envoyImg.XDSAddr
				}
				if e.Env[v] != want {
					t.Errorf("env %s=%q, want %s", v, e.Env[v], want)
				}
			}
			for vname, v := range s.Env {
				covered := slices.Contains(names, vname) || (m.dependencyOf(s, vname) != "" && slices.Contains(e.Calls, m.dependencyOf(s, vname))) || (name == "gateway" && vname == "GATEWAY_CONFIG")
				if v.Required && !covered {
					t.Errorf("required %s is set by no deployment (env, inputs, stores, calls)", vname)
				}
			}
			if e.Min < 1 || e.Max < e.Min {
				t.Errorf("replicas %d..%d: want 1 ≤ min ≤ max", e.Min, e.Max)
			}
			if slices.Contains(autoscaled, name) && e.Max <= e.Min {
				t.Errorf("%s is a hot path: give it room to autoscale (max > min)", name)
			}
		})
	}
	envoy := locals["envoy"]
	if p := ctyInt(envoy.GetAttr("stats_port")); statsListenerAddr(envoyImg) != "0.0.0.0:"+strconv.Itoa(p) {
		t.Errorf("catalog envoy.stats_port %d, the image's stats listener is %s", p, statsListenerAddr(envoyImg))
	}
	if path := locals["gateway_config_path"].AsString(); !filepath.IsAbs(path) {
		t.Errorf("gateway_config_path %q is not absolute", path)
	}
}

var envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// computeEnvNames returns the variable names the compute module of one
// provider writes into the services' environments, by local (env, secrets,
// vault_env): the literal keys of the objects in those locals (keys built
// from expressions, such as "${upper(d)}_ADDR", are not names it can see).
func computeEnvNames(t *testing.T, m *mesh, provider string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	dir := filepath.Join(m.Root, tfModules, "agentidp", "compute", provider)
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	for _, f := range files {
		file, diags := hclparse.NewParser().ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "locals" {
				continue
			}
			for name, attr := range b.Body.Attributes {
				if name != "env" && name != "secrets" && name != "vault_env" {
					continue
				}
				hclsyntax.VisitAll(attr.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
					obj, ok := n.(*hclsyntax.ObjectConsExpr)
					if !ok {
						return nil
					}
					for _, item := range obj.Items {
						key := hcl.ExprAsKeyword(item.KeyExpr)
						if key == "" {
							if v, d := item.KeyExpr.Value(nil); !d.HasErrors() && v.Type() == cty.String {
								key = v.AsString()
							}
						}
						if !envNameRE.MatchString(key) {
							continue
						}
						if out[name] == nil {
							out[name] = map[string]bool{}
						}
						out[name][key] = true
					}
					return nil
				})
			}
		}
	}
	return out
}

// TestTerraformComputeEnv: every variable name the compute modules write
// into the services' environments is read by some service.
func TestTerraformComputeEnv(t *testing.T) {
	m := loadMesh(t)
	for _, p := range providers {
		found := 0
		locals := computeEnvNames(t, m, p)
		for local, keys := range locals {
			for key := range keys {
				found++
				known := false
				for _, s := range m.Services {
					known = known || s.knows(key)
				}
				if !known {
					t.Errorf("compute/%s: local.%s sets %s, which no service reads", p, local, key)
				}
			}
		}
		if found == 0 {
			t.Errorf("compute/%s: found no environment variables in local.env/local.secrets", p)
		}
	}
}

// TestTerraformBootstrap checks the first-admin bootstrap of each compute
// module (an ECS one-off task on AWS, a container in every Cloud Run
// instance on Google Cloud): it sets only settings the bootstrap reads,
// names every service the bootstrap calls, takes its Vault token from a
// secret, lets it reach those services, and runs `bootstrap --output
// vault=PATH` with the path the module's output names.
func TestTerraformBootstrap(t *testing.T) {
	m := loadMesh(t)
	bs := m.Bootstrap
	var deps []string
	for dep := range m.Deps(bs) {
		deps = append(deps, dep)
	}
	sort.Strings(deps)
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			dir := filepath.Join(m.Root, tfModules, "agentidp", "compute", p)
			files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
			locals := map[string]hclsyntax.Expression{}
			var commands [][]string
			for _, f := range files {
				file, diags := hclparse.NewParser().ParseHCLFile(f)
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				body := file.Body.(*hclsyntax.Body)
				for _, b := range body.Blocks {
					if b.Type == "locals" {
						for name, attr := range b.Body.Attributes {
							locals[name] = attr.Expr
						}
					}
				}
				// Every list literal that starts with "bootstrap": a command line.
				hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
					tup, ok := n.(*hclsyntax.TupleConsExpr)
					if !ok || len(tup.Exprs) == 0 {
						return nil
					}
					var args []string
					for _, e := range tup.Exprs {
						v, d := e.Value(nil)
						if d.HasErrors() || v.Type() != cty.String {
							return nil
						}
						args = append(args, v.AsString())
					}
					if args[0] == "bootstrap" {
						commands = append(commands, args)
					}
					return nil
				})
			}
			keys := func(name string) []string {
				expr, ok := locals[name]
				if !ok {
					t.Fatalf("compute/%s: no local.%s", p, name)
				}
				obj, ok := expr.(*hclsyntax.ObjectConsExpr)
				if !ok {
					t.Fatalf("compute/%s: local.%s is not an object literal", p, name)
				}
				var out []string
				for _, item := range obj.Items {
					out = append(out, hcl.ExprAsKeyword(item.KeyExpr))
				}
				return out
			}
			env, secrets := keys("bootstrap_env"), keys("bootstrap_secrets")
			for _, k := range append(append([]string{}, env...), secrets...) {
				if !bs.knows(k) {
					t.Errorf("the bootstrap's environment sets %s, which agentidp bootstrap does not read", k)
				}
			}
			for _, k := range env {
				if secretLike.MatchString(k) {
					t.Errorf("local.bootstrap_env sets %s in the clear: take it from a secret (local.bootstrap_secrets)", k)
				}
			}
			for _, dep := range deps {
				if v := m.Deps(bs)[dep]; !slices.Contains(env, v) {
					t.Errorf("local.bootstrap_env does not set %s: the bootstrap would dial %s on its loopback default", v, dep)
				}
			}
			if !slices.Contains(secrets, "VAULT_TOKEN") || !slices.Contains(env, "VAULT_ADDR") {
				t.Errorf("the bootstrap writes to Vault: want VAULT_ADDR in local.bootstrap_env and VAULT_TOKEN in local.bootstrap_secrets")
			}
			calls, d := locals["bootstrap_calls"].Value(nil)
			if d.HasErrors() || !slices.Equal(ctyStrings(calls), deps) {
				t.Errorf("local.bootstrap_calls (who admits it, or whom it waits for) is %v, the bootstrap calls %v", calls.GoString(), deps)
			}
			pathVal, d := locals["bootstrap_path"].Value(nil)
			if d.HasErrors() || pathVal.Type() != cty.String {
				t.Fatalf("compute/%s: local.bootstrap_path is not a literal string", p)
			}
			if len(commands) != 1 {
				t.Fatalf("compute/%s: %d command lines start with \"bootstrap\", want one: %v", p, len(commands), commands)
			}
			if path := checkBootstrapArgs(t, commands[0], "vault"); path != pathVal.AsString() {
				t.Errorf("the bootstrap writes to vault=%s, the output platform_admin_vault_path names %s", path, pathVal.AsString())
			}
		})
	}
}

// plainLocals evaluates the locals of a Terraform file that are plain data
// (literals); the others (expressions over variables) are left out.
func plainLocals(t *testing.T, path string) map[string]cty.Value {
	t.Helper()
	file, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	locals := map[string]cty.Value{}
	for _, b := range file.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "locals" {
			continue
		}
		for name, attr := range b.Body.Attributes {
			if v, diags := attr.Expr.Value(nil); !diags.HasErrors() {
				locals[name] = v
			}
		}
	}
	return locals
}

// TestTerraformRedisUsers: on AWS every service that uses Redis has an
// ElastiCache RBAC user whose access string is libs/redisacl's, and on both
// clouds each of them gets its own REDIS_URL secret.
func TestTerraformRedisUsers(t *testing.T) {
	m := loadMesh(t)
	aws := plainLocals(t, filepath.Join(m.Root, tfModules, "redis", "aws", "main.tf"))
	users := ctyMap(aws["acl_users"])
	if len(users) != len(redisacl.Services) {
		t.Errorf("redis/aws local.acl_users has %d users, want libs/redisacl's %v", len(users), redisacl.Names())
	}
	for _, u := range redisacl.Services {
		if got := users[u.Name]; got != u.AccessString() {
			t.Errorf("redis/aws local.acl_users.%s =\n  %q\nwant libs/redisacl's\n  %q", u.Name, got, u.AccessString())
		}
	}
	gcp := plainLocals(t, filepath.Join(m.Root, tfModules, "redis", "gcp", "main.tf"))
	if got := ctyStrings(gcp["redis_services"]); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(redisacl.Names()))) {
		t.Errorf("redis/gcp local.redis_services = %v, want libs/redisacl's %v", got, redisacl.Names())
	}
	// Every service the catalog says uses Redis is one of them.
	catalog, _ := loadCatalog(t, m)
	for name, s := range catalog {
		if slices.Contains(s.Stores, "redis") && !slices.Contains(redisacl.Names(), name) {
			t.Errorf("%s uses Redis but libs/redisacl has no user for it", name)
		}
	}
}
