package checks

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/modfile"
)

// The mesh as the source declares it. Nothing here is a hand-written list of
// services, variables or ports: deployables are the workspace modules with a
// cmd/<module base name>/main.go, their settings are the env tags of the
// struct main passes to config.Load, and the gateway's routed services are
// the rows of gateway/internal/catalog. A new service (authz) therefore
// appears here by itself, and every test below asks each artifact to cover it.

const libsConfigImport = "github.com/sentryagent/agentidp/libs/config"

// envVar is one setting a process reads.
type envVar struct {
	Name     string
	Default  string
	Required bool
}

// service is one deployable Go binary.
type service struct {
	Name   string // "registry", "gateway"
	Module string // module directory relative to the repository: "services/registry"
	Env    map[string]envVar
}

// runtimeEnv are variables the Go runtime reads in every binary; deployments
// may set them (GOMEMLIMIT from the container's memory limit).
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}

// knows reports whether the service reads the variable.
func (s *service) knows(name string) bool { return s.Env[name].Name != "" || runtimeEnv[name] }

// listenVars are the settings a process listens on: the *_ADDR variables with
// a host:port default that do not name a dependency. The gateway's XDS_ADDR
// is one (Envoy dials it on loopback).
func (s *service) listenVars(m *mesh) []string {
	var out []string
	for name, v := range s.Env {
		if !strings.HasSuffix(name, "_ADDR") || v.Default == "" || m.dependencyOf(s, name) != "" {
			continue
		}
		if _, _, err := net.SplitHostPort(v.Default); err == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *service) defaultPort(name string) int {
	_, p, err := net.SplitHostPort(s.Env[name].Default)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// ServeVar is the variable of the port other processes call: gRPC, or the
// public HTTP listener of a service that has a separate admin one (token).
// The gateway control plane has none (only its own Envoy, on loopback).
func (s *service) ServeVar() string {
	switch {
	case s.Env["GRPC_ADDR"].Name != "":
		return "GRPC_ADDR"
	case s.Env["ADMIN_ADDR"].Name != "":
		return "HTTP_ADDR"
	}
	return ""
}

// ServePort is the port of ServeVar, 0 if none.
func (s *service) ServePort() int { return s.defaultPort(s.ServeVar()) }

// AdminVar serves /metrics, /healthz and /readyz.
func (s *service) AdminVar() string {
	if s.Env["ADMIN_ADDR"].Name != "" {
		return "ADMIN_ADDR"
	}
	return "HTTP_ADDR"
}

// AdminPort is the port of AdminVar.
func (s *service) AdminPort() int { return s.defaultPort(s.AdminVar()) }

// Stores are the data stores the service uses: postgres, redis, vault.
func (s *service) Stores() []string {
	var out []string
	for v, store := range map[string]string{"DATABASE_URL": "postgres", "REDIS_URL": "redis", "VAULT_ADDR": "vault"} {
		if s.Env[v].Name != "" {
			out = append(out, store)
		}
	}
	sort.Strings(out)
	return out
}

// mesh is every deployable plus the gateway's routing catalog.
type mesh struct {
	Root     string
	Services map[string]*service
	// Bootstrap is `agentidp bootstrap`, the one-shot that creates the
	// first platform admin (compose service, Kubernetes Job, Terraform
	// task): not a deployable, but a caller of the services it names with
	// AGENTIDP_<SERVICE>_ADDR.
	Bootstrap *service
	// Routed are the gateway catalog's service names, in catalog order, and
	// whether each is reached over HTTP (else gRPC).
	Routed   []string
	RoutedHT map[string]bool
	// Pending are modules with a cmd/<name>/main.go that loads no
	// configuration yet (a skeleton): not deployable, reported by TestMesh.
	Pending []string
}

// Names returns the deployables, sorted.
func (m *mesh) Names() []string {
	var out []string
	for n := range m.Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// dependencyOf returns the mesh service one of s's settings dials, or "":
// by the setting's name (REGISTRY_ADDR → registry; TOKEN_JWKS_URL → token),
// or, for a URL setting named after no service, by its default — an
// http(s) URL on loopback at another service's HTTP serving port (authz's
// JWKS_URL defaults to http://127.0.0.1:9103/.well-known/jwks.json: the
// token service's).
func (m *mesh) dependencyOf(s *service, name string) string {
	if !strings.HasSuffix(name, "_ADDR") && !strings.HasSuffix(name, "_URL") {
		return ""
	}
	// The CLI's settings carry the product's prefix
	// (AGENTIDP_REGISTRY_ADDR): the service is the word after it.
	prefix, _, _ := strings.Cut(strings.TrimPrefix(name, "AGENTIDP_"), "_")
	dep := strings.ToLower(prefix)
	if _, ok := m.Services[dep]; ok {
		return dep
	}
	if !strings.HasSuffix(name, "_URL") {
		return ""
	}
	u, err := url.Parse(s.Env[name].Default)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return ""
	}
	for _, other := range m.Services {
		if other != s && other.ServeVar() == "HTTP_ADDR" && other.ServePort() == port {
			return other.Name
		}
	}
	return ""
}

// Deps maps each dependency of s to the variable that names it.
func (m *mesh) Deps(s *service) map[string]string {
	out := map[string]string{}
	for name := range s.Env {
		if dep := m.dependencyOf(s, name); dep != "" && dep != s.Name {
			out[dep] = name
		}
	}
	return out
}

// Callers returns who dials s: services whose settings name it, the
// gateway for every service it routes to, and the bootstrap.
func (m *mesh) Callers(name string) []string {
	var out []string
	for _, other := range m.Services {
		if _, ok := m.Deps(other)[name]; ok {
			out = append(out, other.Name)
		}
	}
	if slices.Contains(m.Routed, name) && !slices.Contains(out, "gateway") {
		out = append(out, "gateway")
	}
	if _, ok := m.Deps(m.Bootstrap)[name]; ok {
		out = append(out, m.Bootstrap.Name)
	}
	sort.Strings(out)
	return out
}

var (
	meshOnce sync.Once
	meshVal  *mesh
	meshErr  error
)

// loadMesh parses the workspace once per test binary.
func loadMesh(t *testing.T) *mesh {
	t.Helper()
	meshOnce.Do(func() { meshVal, meshErr = parseMesh() })
	if meshErr != nil {
		t.Fatalf("reading the mesh from the source: %v", meshErr)
	}
	return meshVal
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above %s", dir)
		}
		dir = parent
	}
}

func parseMesh() (*mesh, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	work, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	common, err := parseCommonConfig(root)
	if err != nil {
		return nil, err
	}
	if meshEnv, err = parseLibsConfig(root, "Mesh"); err != nil {
		return nil, err
	}
	m := &mesh{Root: root, Services: map[string]*service{}, RoutedHT: map[string]bool{}}
	for _, u := range work.Use {
		dir := filepath.ToSlash(filepath.Clean(u.Path))
		name := filepath.Base(dir)
		mainGo := filepath.Join(root, dir, "cmd", name, "main.go")
		if _, err := os.Stat(mainGo); err != nil {
			continue // a library or tool module, not a deployable
		}
		env, err := parseServiceConfig(root, dir, mainGo)
		if errors.Is(err, errNoConfig) {
			m.Pending = append(m.Pending, dir)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		for k, v := range common {
			env[k] = v
		}
		m.Services[name] = &service{Name: name, Module: dir, Env: env}
	}
	if _, ok := m.Services["gateway"]; !ok {
		return nil, fmt.Errorf("no gateway module with cmd/gateway/main.go in go.work")
	}
	if err := parseCatalog(root, m); err != nil {
		return nil, fmt.Errorf("gateway catalog: %w", err)
	}
	if m.Bootstrap, err = parseBootstrap(root, work); err != nil {
		return nil, fmt.Errorf("agentidp bootstrap: %w", err)
	}
	return m, nil
}

// The operator CLI and the struct whose env tags are the bootstrap's
// settings (cli/internal/command).
const (
	cliModule       = "cli"
	cliCommand      = "agentidp"
	bootstrapEnvDir = "internal/command"
	bootstrapEnvTyp = "bootstrapEnv"
)

// parseBootstrap reads the bootstrap's settings from the CLI's source.
func parseBootstrap(root string, work *modfile.WorkFile) (*service, error) {
	if !slices.ContainsFunc(work.Use, func(u *modfile.Use) bool { return filepath.Clean(u.Path) == cliModule }) {
		return nil, fmt.Errorf("go.work does not use ./%s", cliModule)
	}
	if _, err := os.Stat(filepath.Join(root, cliModule, "cmd", cliCommand, "main.go")); err != nil {
		return nil, err
	}
	pkg, err := parseDir(filepath.Join(root, cliModule, bootstrapEnvDir))
	if err != nil {
		return nil, err
	}
	st := findStruct(pkg, bootstrapEnvTyp)
	if st == nil {
		return nil, fmt.Errorf("%s/%s: no struct %s", cliModule, bootstrapEnvDir, bootstrapEnvTyp)
	}
	env := map[string]envVar{}
	collectEnv(st, env)
	mergeMesh(st, env)
	return &service{Name: "bootstrap", Module: cliModule, Env: env}, nil
}

// parseCommonConfig reads libs/config's Common struct, embedded by every Config.
func parseCommonConfig(root string) (map[string]envVar, error) {
	return parseLibsConfig(root, "Common")
}

// parseLibsConfig reads the env tags of a struct of libs/config.
func parseLibsConfig(root, typ string) (map[string]envVar, error) {
	pkg, err := parseDir(filepath.Join(root, "libs", "config"))
	if err != nil {
		return nil, err
	}
	st := findStruct(pkg, typ)
	if st == nil {
		return nil, fmt.Errorf("libs/config: no %s struct", typ)
	}
	env := map[string]envVar{}
	collectEnv(st, env)
	return env, nil
}

// meshEnv are config.Mesh's settings (the mesh certificate files), which a
// Config holding a config.Mesh field reads: mergeMesh adds them.
var meshEnv map[string]envVar

// holdsMesh reports whether a struct has a field of type config.Mesh
// (embedded or named).
func holdsMesh(st *ast.StructType) bool {
	for _, field := range st.Fields.List {
		if sel, ok := field.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Mesh" {
			return true
		}
	}
	return false
}

func mergeMesh(st *ast.StructType, env map[string]envVar) {
	if holdsMesh(st) {
		for k, v := range meshEnv {
			env[k] = v
		}
	}
}

// errNoConfig: main.go does not call config.Load (yet).
var errNoConfig = errors.New("no config.Load[T]() call")

// parseServiceConfig finds the type main.go passes to config.Load and
// returns its env settings.
func parseServiceConfig(root, moduleDir, mainGo string) (map[string]envVar, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, mainGo, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	imports := importsOf(f)
	var typeExpr ast.Expr
	ast.Inspect(f, func(n ast.Node) bool {
		idx, ok := n.(*ast.IndexExpr)
		if !ok || typeExpr != nil {
			return true
		}
		if sel, ok := idx.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Load" {
			if x, ok := sel.X.(*ast.Ident); ok && imports[x.Name] == libsConfigImport {
				typeExpr = idx.Index
			}
		}
		return true
	})
	if typeExpr == nil {
		return nil, errNoConfig
	}
	var dir, typeName string
	switch e := typeExpr.(type) {
	case *ast.Ident:
		dir, typeName = filepath.Dir(mainGo), e.Name
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return nil, fmt.Errorf("%s: config.Load of an unsupported type expression", mainGo)
		}
		modPath, err := modulePath(filepath.Join(root, moduleDir))
		if err != nil {
			return nil, err
		}
		rel, ok := strings.CutPrefix(imports[x.Name], modPath+"/")
		if !ok {
			return nil, fmt.Errorf("%s: config type %s.%s is outside the module", mainGo, x.Name, e.Sel.Name)
		}
		dir, typeName = filepath.Join(root, moduleDir, rel), e.Sel.Name
	default:
		return nil, fmt.Errorf("%s: config.Load of an unsupported type expression", mainGo)
	}
	pkg, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	st := findStruct(pkg, typeName)
	if st == nil {
		return nil, fmt.Errorf("%s: struct %s not found", dir, typeName)
	}
	env := map[string]envVar{}
	collectEnv(st, env)
	if err := collectLibsStructs(root, pkg, st, env); err != nil {
		return nil, fmt.Errorf("%s.%s: %w", dir, typeName, err)
	}
	mergeMesh(st, env)
	if len(env) == 0 {
		return nil, fmt.Errorf("%s.%s has no env tags", dir, typeName)
	}
	return env, nil
}

// libsImport is the import path prefix of the shared libraries.
const libsImport = "github.com/sentryagent/agentidp/libs/"

// collectLibsStructs adds the env tags of untagged struct fields whose type
// is a struct of a shared library (e.g. `Vault vaultclient.Settings`): the
// env package parses nested structs like the service's own fields.
func collectLibsStructs(root string, files []*ast.File, st *ast.StructType, into map[string]envVar) error {
	imports := map[string]string{}
	for _, f := range files {
		for k, v := range importsOf(f) {
			imports[k] = v
		}
	}
	for _, field := range st.Fields.List {
		sel, ok := field.Type.(*ast.SelectorExpr)
		if field.Tag != nil || !ok || len(field.Names) == 0 {
			continue
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			continue
		}
		rel, ok := strings.CutPrefix(imports[x.Name], libsImport)
		if !ok || rel == "config" {
			continue
		}
		pkg, err := parseDir(filepath.Join(root, "libs", filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if nested := findStruct(pkg, sel.Sel.Name); nested != nil {
			collectEnv(nested, into)
		}
	}
	return nil
}

func modulePath(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	return modfile.ModulePath(data), nil
}

func importsOf(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := filepath.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		out[name] = p
	}
	return out
}

// parseDir parses the non-test Go files of one package directory.
func parseDir(dir string) ([]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func findStruct(files []*ast.File, name string) *ast.StructType {
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok && ts.Name.Name == name {
					return st
				}
			}
		}
	}
	return nil
}

// collectEnv reads the `env:"NAME[,required]" envDefault:"..."` tags.
// Embedded structs (config.Common) are merged by the caller.
func collectEnv(st *ast.StructType, into map[string]envVar) {
	for _, field := range st.Fields.List {
		if field.Tag == nil {
			continue
		}
		tag, err := strconv.Unquote(field.Tag.Value)
		if err != nil {
			continue
		}
		st := reflect.StructTag(tag)
		spec, ok := st.Lookup("env")
		if !ok || spec == "" {
			continue
		}
		name, opts, _ := strings.Cut(spec, ",")
		into[name] = envVar{Name: name, Default: st.Get("envDefault"), Required: slices.Contains(strings.Split(opts, ","), "required")}
	}
}

// parseCatalog reads the rows of `var services = []Service{...}` in
// gateway/internal/catalog: their Name and Protocol.
func parseCatalog(root string, m *mesh) error {
	files, err := parseDir(filepath.Join(root, "gateway", "internal", "catalog"))
	if err != nil {
		return err
	}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if len(vs.Names) != 1 || vs.Names[0].Name != "services" || len(vs.Values) != 1 {
					continue
				}
				lit, ok := vs.Values[0].(*ast.CompositeLit)
				if !ok {
					return fmt.Errorf("services is not a composite literal")
				}
				for _, elt := range lit.Elts {
					row, ok := elt.(*ast.CompositeLit)
					if !ok {
						return fmt.Errorf("a catalog row is not a composite literal")
					}
					var name string
					http := false
					for _, kv := range row.Elts {
						kv, ok := kv.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						switch kv.Key.(*ast.Ident).Name {
						case "Name":
							if bl, ok := kv.Value.(*ast.BasicLit); ok {
								name, _ = strconv.Unquote(bl.Value)
							}
						case "Protocol":
							if id, ok := kv.Value.(*ast.Ident); ok {
								http = id.Name == "HTTP"
							}
						}
					}
					if name == "" {
						return fmt.Errorf("a catalog row without a literal Name")
					}
					m.Routed = append(m.Routed, name)
					m.RoutedHT[name] = http
				}
				return nil
			}
		}
	}
	return fmt.Errorf("no `var services = []Service{...}`")
}

// TestMesh checks the model the other tests rely on, and the properties of
// the mesh that every deployment depends on.
func TestMesh(t *testing.T) {
	m := loadMesh(t)
	t.Logf("deployables: %v; gateway routes: %v", m.Names(), m.Routed)
	for _, p := range m.Pending {
		t.Logf("%s has a main but loads no configuration yet: not checked as a deployable until it calls config.Load", p)
	}
	for _, want := range []string{"gateway", "registry"} {
		if m.Services[want] == nil {
			t.Errorf("deployable %s not found", want)
		}
	}
	for _, name := range m.Routed {
		s := m.Services[name]
		if s == nil {
			t.Errorf("the gateway routes to %s, which is not a deployable in go.work", name)
			continue
		}
		if s.ServePort() == 0 {
			t.Errorf("the gateway routes to %s, which has no serving port (GRPC_ADDR, or HTTP_ADDR beside ADMIN_ADDR)", name)
		}
		if wantHTTP := s.ServeVar() == "HTTP_ADDR"; m.RoutedHT[name] != wantHTTP {
			t.Errorf("%s: the catalog's protocol (HTTP=%v) disagrees with its serving listener %s", name, m.RoutedHT[name], s.ServeVar())
		}
	}
	// The bootstrap calls the services that hold agents and credentials,
	// through settings a deployment can point at them.
	bs := m.Bootstrap
	t.Logf("agentidp bootstrap calls %v", m.Deps(bs))
	for _, want := range []string{"registry", "credentials"} {
		if _, ok := m.Deps(bs)[want]; !ok {
			t.Errorf("agentidp bootstrap has no AGENTIDP_%s_ADDR setting (cli/%s.%s)", strings.ToUpper(want), bootstrapEnvDir, bootstrapEnvTyp)
		}
	}
	if len(bs.listenVars(m)) > 0 {
		t.Errorf("agentidp bootstrap listens (%v): it is a one-shot client", bs.listenVars(m))
	}
	// Every process listens on its own ports: Cloud Run instances and the
	// gateway pod share one network namespace, so a clash would bite there.
	owner := map[int]string{}
	for _, name := range m.Names() {
		s := m.Services[name]
		for _, v := range s.listenVars(m) {
			p := s.defaultPort(v)
			if o, dup := owner[p]; dup {
				t.Errorf("port %d is the default of both %s and %s.%s", p, o, name, v)
			}
			owner[p] = name + "." + v
		}
		if name != "gateway" && s.AdminPort() == 0 {
			t.Errorf("%s: no admin HTTP port (%s)", name, s.AdminVar())
		}
	}
}

var hostPortRE = regexp.MustCompile(`^([^:/]+):(\d+)$`)

// splitHostPort splits "host:port" into its parts, port as an int.
func splitHostPort(s string) (string, int, bool) {
	mm := hostPortRE.FindStringSubmatch(s)
	if mm == nil {
		return "", 0, false
	}
	p, _ := strconv.Atoi(mm[2])
	return mm[1], p, true
}
