package checks

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/sentryagent/agentidp/libs/redisacl"
)

const (
	composeBase       = "deploy/docker-compose.yml"
	composeMonitoring = "deploy/docker-compose.monitoring.yml"
)

// loadCompose loads compose files as `docker compose -f a -f b` would, with
// an empty environment (every ${VAR:-default} takes its default).
func loadCompose(t *testing.T, m *mesh, files ...string) *types.Project {
	t.Helper()
	details := types.ConfigDetails{WorkingDir: filepath.Join(m.Root, "deploy"), Environment: types.Mapping{}}
	for _, f := range files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: filepath.Join(m.Root, f)})
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("agentidp", true)
	})
	if err != nil {
		t.Fatalf("loading %v: %v", files, err)
	}
	return p
}

func envValue(svc types.ServiceConfig, name string) (string, bool) {
	v, ok := svc.Environment[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// initSQL reads the roles and databases deploy/docker/postgres/init.sql creates.
type initSQL struct {
	passwords map[string]string // role → password
	owners    map[string]string // database → owner
}

var (
	createRoleRE = regexp.MustCompile(`(?i)CREATE ROLE (\w+) LOGIN[^;]*PASSWORD '([^']*)'`)
	createDBRE   = regexp.MustCompile(`(?i)CREATE DATABASE (\w+) OWNER (\w+)`)
)

func parseInitSQL(t *testing.T, path string) initSQL {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := initSQL{passwords: map[string]string{}, owners: map[string]string{}}
	for _, mm := range createRoleRE.FindAllStringSubmatch(string(data), -1) {
		out.passwords[mm[1]] = mm[2]
	}
	for _, mm := range createDBRE.FindAllStringSubmatch(string(data), -1) {
		out.owners[mm[1]] = mm[2]
	}
	return out
}

// bindSource returns the host path a container path comes from, through a
// bind mount of the path itself or of a directory above it.
func bindSource(svc types.ServiceConfig, target string) string {
	for _, v := range svc.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if v.Target == target {
			return v.Source
		}
		if rel, ok := strings.CutPrefix(target, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, rel)
		}
	}
	return ""
}

// TestCompose checks deploy/docker-compose.yml against the source: every
// deployable built from its module, every variable it sets read by the
// service, listeners on 0.0.0.0 at their documented ports, dependencies by
// service name, one database and role per service, and the gateway's
// config covering the catalog.
func TestCompose(t *testing.T) {
	m := loadMesh(t)
	p := loadCompose(t, m, composeBase)
	envoyImg := loadEnvoyImage(t)

	for name, svc := range p.Services {
		if svc.Build == nil {
			continue
		}
		df := svc.Build.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(svc.Build.Context, df)
		}
		if _, err := os.Stat(df); err != nil {
			t.Errorf("%s: build context %s has no Dockerfile %s", name, svc.Build.Context, svc.Build.Dockerfile)
		}
		if svc.Build.Context != m.Root {
			t.Errorf("%s: build context %s, want the repository root (.dockerignore, libs/)", name, svc.Build.Context)
		}
	}

	// The data stores every deployable needs, and Envoy beside the gateway.
	for _, s := range m.Services {
		for _, store := range s.Stores() {
			if _, ok := p.Services[store]; !ok {
				t.Errorf("%s needs %s, which the compose file does not run", s.Name, store)
			}
		}
	}
	envoy, ok := p.Services["envoy"]
	if !ok {
		t.Fatal("no envoy service")
	}
	// The control plane hands Envoy the gateway's certificate paths over
	// SDS: Envoy must see the same files at the same place.
	gwCert, _ := envValue(p.Services["gateway"], "TLS_CERT_FILE")
	checkComposeMeshAt(t, p, envoy, "gateway", filepath.Dir(gwCert))
	if envoy.NetworkMode != "service:gateway" {
		t.Errorf("envoy: network_mode %q, want service:gateway (ADS and admin on loopback, as in the image's bootstrap)", envoy.NetworkMode)
	}
	if envoy.Build == nil || envoy.Build.Target != "envoy" || argOf(envoy.Build, "MODULE") != "gateway" {
		t.Errorf("envoy: want build target envoy with MODULE=gateway")
	}

	sql := parseInitSQL(t, filepath.Join(m.Root, "deploy", "docker", "postgres", "init.sql"))
	redisURLs := map[string]string{}
	for _, name := range m.Names() {
		s := m.Services[name]
		t.Run(name, func(t *testing.T) {
			svc, ok := p.Services[name]
			if !ok {
				t.Fatalf("no compose service %q", name)
			}
			if svc.Build == nil || argOf(svc.Build, "MODULE") != s.Module || argOf(svc.Build, "CMD") != name || svc.Build.Target != "" {
				t.Errorf("build: want args MODULE=%s CMD=%s and the default target", s.Module, name)
			}
			if !svc.ReadOnly || !nonRootUser(svc.User) || !slices.Contains(svc.CapDrop, "ALL") {
				t.Errorf("want read_only, a non-root user and cap_drop ALL (got %v, %q, %v)", svc.ReadOnly, svc.User, svc.CapDrop)
			}
			var names []string
			for k := range svc.Environment {
				names = append(names, k)
			}
			checkEnvNames(t, s, names)
			checkEnv(t, m, s, func(v string) (string, bool) { return envValue(svc, v) }, envoyImg, func(dep string) string { return dep })
			checkComposeMesh(t, p, svc, name)
			for dep := range m.Deps(s) {
				if _, ok := svc.DependsOn[dep]; !ok {
					t.Errorf("depends_on lacks %s, which it calls", dep)
				}
			}
			for _, store := range s.Stores() {
				if _, ok := svc.DependsOn[store]; !ok {
					t.Errorf("depends_on lacks %s", store)
				}
			}
			if u, ok := envValue(svc, "MIGRATE_DATABASE_URL"); ok {
				// The owner migrates; DATABASE_URL is the service's own
				// login to the same database (docs/audit.md, "Append-only").
				checkComposeDatabase(t, name, u, sql)
				if d, ok := envValue(svc, "DATABASE_URL"); ok {
					checkComposeLogin(t, name, d, sql)
				}
			} else if u, ok := envValue(svc, "DATABASE_URL"); ok {
				checkComposeDatabase(t, name, u, sql)
			}
			if u, ok := envValue(svc, "REDIS_URL"); ok {
				redisURLs[name] = u
				if pu, err := url.Parse(u); err != nil || pu.Hostname() != "redis" {
					t.Errorf("REDIS_URL %q: want the redis service", u)
				}
			}
			if v, ok := envValue(svc, "VAULT_ADDR"); ok {
				if pu, err := url.Parse(v); err != nil || pu.Hostname() != "vault" {
					t.Errorf("VAULT_ADDR %q: want the vault service", v)
				}
				root, _ := envValue(p.Services["vault"], "VAULT_DEV_ROOT_TOKEN_ID")
				if tok, _ := envValue(svc, "VAULT_TOKEN"); tok != root {
					t.Errorf("VAULT_TOKEN does not match the dev Vault's root token")
				}
				// The services refuse a root token unless told it is development.
				if allow, _ := envValue(svc, "VAULT_ALLOW_ROOT_TOKEN"); allow != "true" {
					t.Errorf("VAULT_TOKEN is the dev Vault's root token but VAULT_ALLOW_ROOT_TOKEN is not \"true\"")
				}
			}
			// Only the gateway publishes ports; the others expose their listeners.
			if name != "gateway" {
				if len(svc.Ports) > 0 {
					t.Errorf("publishes ports %v: only the gateway is reachable from the host", svc.Ports)
				}
				var want, got []string
				for _, v := range s.listenVars(m) {
					want = append(want, strconv.Itoa(s.defaultPort(v)))
				}
				got = append(got, svc.Expose...)
				sort.Strings(want)
				sort.Strings(got)
				if !slices.Equal(got, want) {
					t.Errorf("expose %v, want its listeners %v", got, want)
				}
			}
		})
	}
	checkComposeRedisACL(t, m.Root, redisURLs, p.Services["redis"].HealthCheck.Test)

	// The gateway: its config file, and the ports of its network namespace.
	gw := p.Services["gateway"]
	cfgPath, _ := envValue(gw, "GATEWAY_CONFIG")
	src := bindSource(gw, cfgPath)
	if src == "" {
		t.Fatalf("gateway: no bind mount at GATEWAY_CONFIG %q", cfgPath)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseGatewayConfig(t, src, data)
	checkGatewayConfig(t, m, src, cfg, 8080, func(s string) string { return s })
	published := map[uint32]bool{}
	for _, port := range gw.Ports {
		published[port.Target] = true
	}
	if !published[uint32(cfg.Listener.Port)] {
		t.Errorf("gateway: Envoy's listener port %d is not published", cfg.Listener.Port)
	}
	gwListens := map[uint32]bool{uint32(cfg.Listener.Port): true}
	for _, v := range m.Services["gateway"].listenVars(m) {
		if val, _ := envValue(gw, v); strings.HasPrefix(val, "0.0.0.0:") {
			gwListens[uint32(m.Services["gateway"].defaultPort(v))] = true
		}
	}
	for port := range published {
		if !gwListens[port] {
			t.Errorf("gateway: publishes %d, which nothing in its network namespace listens on for the outside", port)
		}
	}
}

func argOf(b *types.BuildConfig, name string) string {
	if v, ok := b.Args[name]; ok && v != nil {
		return *v
	}
	return ""
}

func checkComposeDatabase(t *testing.T, name, raw string, sql initSQL) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("DATABASE_URL: %v", err)
		return
	}
	db := strings.TrimPrefix(u.Path, "/")
	user := u.User.Username()
	pass, _ := u.User.Password()
	want := "agentidp_" + name
	switch {
	case u.Hostname() != "postgres" || u.Port() != "5432":
		t.Errorf("DATABASE_URL host %s, want postgres:5432", u.Host)
	case db != want || user != want:
		t.Errorf("DATABASE_URL: database %q as %q, want its own database and role %s", db, user, want)
	case sql.owners[db] != user:
		t.Errorf("init.sql does not create database %s owned by %s", db, user)
	case sql.passwords[user] != pass:
		t.Errorf("init.sql does not create role %s with the DATABASE_URL's password", user)
	}
}

// checkComposeLogin checks a service's confined login: its own database,
// a role init.sql creates with that password, and not the database's owner.
func checkComposeLogin(t *testing.T, name, raw string, sql initSQL) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("DATABASE_URL: %v", err)
		return
	}
	db := strings.TrimPrefix(u.Path, "/")
	user := u.User.Username()
	pass, _ := u.User.Password()
	switch {
	case u.Hostname() != "postgres" || u.Port() != "5432":
		t.Errorf("DATABASE_URL host %s, want postgres:5432", u.Host)
	case db != "agentidp_"+name:
		t.Errorf("DATABASE_URL: database %q, want agentidp_%s", db, name)
	case sql.owners[db] == user:
		t.Errorf("DATABASE_URL: %s owns %s; with MIGRATE_DATABASE_URL the service's login must not", user, db)
	case sql.passwords[user] != pass:
		t.Errorf("init.sql does not create role %s with the DATABASE_URL's password", user)
	}
}

// checkEnv checks the variables a deployment sets for one service: each is
// read by the service, the required ones are set, listeners are on 0.0.0.0
// at their default ports (the gateway's ADS on the loopback address Envoy's
// bootstrap dials), and each dependency is addressed as hostFor(dep) on its
// serving port. get returns a literal value, or ok with "" for a value
// from a secret or config map.
func checkEnv(t *testing.T, m *mesh, s *service, get func(string) (string, bool), envoyImg *envoyImage, hostFor func(string) string) {
	t.Helper()
	// Every internal call is mutual TLS: a process that reads the mesh
	// certificate settings is given all three, and never the development
	// flag that turns TLS off.
	if _, ok := s.Env["TLS_CERT_FILE"]; ok {
		for _, v := range []string{"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"} {
			if val, ok := get(v); !ok || val == "" {
				t.Errorf("%s is not set: %s would refuse to start without its mesh certificate", v, s.Name)
			}
		}
		if val, ok := get("AGENTIDP_INSECURE_PLAINTEXT"); ok && val != "false" {
			t.Errorf("AGENTIDP_INSECURE_PLAINTEXT=%q: shipped configurations never turn the mesh's TLS off", val)
		}
		if val, ok := get("GRPC_REFLECTION"); ok && val != "false" {
			t.Errorf("GRPC_REFLECTION=%q: reflection stays off in shipped configurations", val)
		}
	}
	for name, v := range s.Env {
		if _, ok := get(name); v.Required && !ok {
			t.Errorf("%s is required and not set", name)
		}
	}
	for _, v := range s.listenVars(m) {
		val, ok := get(v)
		want := "0.0.0.0:" + strconv.Itoa(s.defaultPort(v))
		if v == "XDS_ADDR" {
			want = envoyImg.XDSAddr
		}
		if !ok || val != want {
			t.Errorf("%s=%q, want %s", v, val, want)
		}
	}
	if v := s.Env["ENVOY_NODE_ID"]; v.Name != "" {
		if val, ok := get("ENVOY_NODE_ID"); ok && val != envoyImg.NodeID {
			t.Errorf("ENVOY_NODE_ID=%q, Envoy's bootstrap says %q", val, envoyImg.NodeID)
		}
	}
	for dep, v := range m.Deps(s) {
		val, ok := get(v)
		if !ok {
			t.Errorf("%s is not set: %s would dial %s's loopback default", v, s.Name, dep)
			continue
		}
		want := hostFor(dep) + ":" + strconv.Itoa(m.Services[dep].ServePort())
		switch {
		case strings.HasSuffix(v, "_ADDR"):
			if val != want {
				t.Errorf("%s=%q, want %s", v, val, want)
			}
		case val != "": // a URL (JWKS_URL): the same host and port, whatever the path
			if u, err := url.Parse(val); err != nil || u.Host != want {
				t.Errorf("%s=%q, want a URL on %s", v, val, want)
			}
		}
	}
}

// checkEnvNames fails for every variable the service does not read.
func checkEnvNames(t *testing.T, s *service, names []string) {
	t.Helper()
	for _, n := range names {
		if !s.knows(n) {
			t.Errorf("sets %s, which %s does not read (its Config has no such env tag)", n, s.Name)
		}
	}
}

// prometheusConfig is the part of prometheus.yml the overlay depends on.
type prometheusConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// knownScrapeDivergences are targets of deploy/monitoring/prometheus.yml
// (owned by the monitoring issue) that this layout does not serve, with the
// fix. Reported, not failed, so the two issues can land in either order.
var knownScrapeDivergences = map[string]string{
	"envoy:9901": "Envoy's admin interface stays on 127.0.0.1 (it can stop Envoy); scrape envoy:9902, the read-only stats listener (deploy/docker/Dockerfile)",
}

// TestComposeMonitoring loads the base with the monitoring overlay and checks
// that every file it mounts exists and that Prometheus and Grafana find
// their configuration where it is mounted.
func TestComposeMonitoring(t *testing.T) {
	m := loadMesh(t)
	base := loadCompose(t, m, composeBase)
	p := loadCompose(t, m, composeBase, composeMonitoring)
	for name := range base.Services {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("the overlay drops %s", name)
		}
	}
	for _, name := range []string{"prometheus", "grafana"} {
		svc, ok := p.Services[name]
		if !ok {
			t.Fatalf("the overlay does not add %s", name)
		}
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist", name, v.Source)
			}
			if rel, _ := filepath.Rel(filepath.Join(m.Root, "deploy", "monitoring"), v.Source); strings.HasPrefix(rel, "..") {
				t.Errorf("%s mounts %s from outside deploy/monitoring", name, v.Source)
			}
		}
	}

	// Prometheus: its config and rules are where its command line says.
	prom := p.Services["prometheus"]
	var cfgPath string
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			cfgPath = v
		}
	}
	src := bindSource(prom, cfgPath)
	if src == "" {
		t.Fatalf("prometheus: --config.file=%q is not a mounted file", cfgPath)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var pc prometheusConfig
	if err := yaml.Unmarshal(data, &pc); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	for _, rf := range pc.RuleFiles {
		if bindSource(prom, rf) == "" {
			t.Errorf("prometheus: rule file %s is not mounted", rf)
		}
	}
	// Every scrape target is a compose service (or alias) listening there.
	listening := composeListeners(t, m, p)
	scraped := map[string]bool{}
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				scraped[target] = true
				if listening[target] {
					continue
				}
				if why, ok := knownScrapeDivergences[target]; ok {
					t.Logf("prometheus.yml job %s scrapes %s: %s", sc.JobName, target, why)
					continue
				}
				t.Errorf("prometheus.yml job %s scrapes %s, which no compose service listens on", sc.JobName, target)
			}
		}
	}
	for _, name := range m.Names() {
		if target := name + ":" + strconv.Itoa(m.Services[name].AdminPort()); !scraped[target] {
			t.Logf("prometheus.yml does not scrape %s (%s's metrics)", target, name)
		}
	}

	// Grafana: dashboards are mounted where the provisioning looks, and the
	// datasource is the prometheus service.
	graf := p.Services["grafana"]
	prov := bindSource(graf, "/etc/grafana/provisioning")
	if prov == "" {
		t.Fatal("grafana: provisioning is not mounted at /etc/grafana/provisioning")
	}
	dashFiles, _ := filepath.Glob(filepath.Join(prov, "dashboards", "*.y*ml"))
	if len(dashFiles) == 0 {
		t.Errorf("grafana: no dashboard providers in %s/dashboards", prov)
	}
	for _, f := range dashFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dp struct {
			Providers []struct {
				Options struct {
					Path string `json:"path"`
				} `json:"options"`
			} `json:"providers"`
		}
		if err := yaml.Unmarshal(data, &dp); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, pr := range dp.Providers {
			src := bindSource(graf, pr.Options.Path)
			if src == "" {
				t.Errorf("grafana: provider path %s (%s) is not mounted", pr.Options.Path, f)
				continue
			}
			if js, _ := filepath.Glob(filepath.Join(src, "*.json")); len(js) == 0 {
				t.Errorf("grafana: %s (mounted at %s) holds no dashboards", src, pr.Options.Path)
			}
		}
	}
	dsFiles, _ := filepath.Glob(filepath.Join(prov, "datasources", "*.y*ml"))
	for _, f := range dsFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ds struct {
			Datasources []struct {
				Type string `json:"type"`
				URL  string `json:"url"`
			} `json:"datasources"`
		}
		if err := yaml.Unmarshal(data, &ds); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range ds.Datasources {
			u, err := url.Parse(d.URL)
			if err != nil || !listening[u.Host] {
				t.Errorf("grafana datasource %s (%s): no compose service listens there", d.URL, f)
			}
		}
	}
}

// composeListeners returns every "host:port" reachable on the compose
// network: each service's listeners under its name and aliases; the
// gateway's network namespace also holds Envoy's listener and stats port.
func composeListeners(t *testing.T, m *mesh, p *types.Project) map[string]bool {
	t.Helper()
	out := map[string]bool{"prometheus:9090": true, "grafana:3000": true, "postgres:5432": true, "redis:6379": true, "vault:8200": true}
	envoyImg := loadEnvoyImage(t)
	for _, name := range m.Names() {
		s := m.Services[name]
		svc := p.Services[name]
		hosts := []string{name}
		for _, n := range svc.Networks {
			if n != nil {
				hosts = append(hosts, n.Aliases...)
			}
		}
		var ports []int
		for _, v := range s.listenVars(m) {
			if val, _ := envValue(svc, v); strings.HasPrefix(val, "0.0.0.0:") {
				ports = append(ports, s.defaultPort(v))
			}
		}
		if name == "gateway" {
			ports = append(ports, 8080)
			if _, p, ok := splitHostPort(statsListenerAddr(envoyImg)); ok {
				ports = append(ports, p)
			}
		}
		for _, h := range hosts {
			for _, port := range ports {
				out[h+":"+strconv.Itoa(port)] = true
			}
		}
	}
	return out
}

var statsPortRE = regexp.MustCompile(`name: prometheus_stats, address: \{socket_address: \{address: ([0-9.]+), port_value: (\d+)\}\}`)

// statsListenerAddr is the address of the envoy image's stats listener.
func statsListenerAddr(img *envoyImage) string {
	mm := statsPortRE.FindStringSubmatch(img.ConfigYAML)
	if mm == nil {
		return ""
	}
	return mm[1] + ":" + mm[2]
}

// TestComposeBootstrap checks the one-shot that gives the compose stack its
// first platform admin: the CLI's image, the bootstrap command printing the
// credential once, settings the bootstrap reads, each service it calls by
// name and port, and a container that runs once and is as locked down as
// the services.
func TestComposeBootstrap(t *testing.T) {
	m := loadMesh(t)
	p := loadCompose(t, m, composeBase)
	bs := m.Bootstrap
	svc, ok := p.Services[bs.Name]
	if !ok {
		t.Fatalf("no compose service %q: a compose deployment would have no way to its first admin", bs.Name)
	}
	if svc.Build == nil || argOf(svc.Build, "MODULE") != bs.Module || argOf(svc.Build, "CMD") != cliCommand || svc.Build.Target != "" {
		t.Errorf("build: want args MODULE=%s CMD=%s and the default target", bs.Module, cliCommand)
	}
	checkBootstrapArgs(t, svc.Command, "stdout")
	if svc.Restart != "no" {
		t.Errorf("restart %q, want \"no\": a one-shot that exits 0 must not be restarted", svc.Restart)
	}
	if !svc.ReadOnly || !nonRootUser(svc.User) || !slices.Contains(svc.CapDrop, "ALL") {
		t.Errorf("want read_only, a non-root user and cap_drop ALL (got %v, %q, %v)", svc.ReadOnly, svc.User, svc.CapDrop)
	}
	if len(svc.Ports) > 0 || len(svc.Expose) > 0 {
		t.Errorf("publishes or exposes %v %v: it listens on nothing", svc.Ports, svc.Expose)
	}
	var names []string
	for k := range svc.Environment {
		names = append(names, k)
	}
	checkEnvNames(t, bs, names)
	envoyImg := loadEnvoyImage(t)
	checkEnv(t, m, bs, func(v string) (string, bool) { return envValue(svc, v) }, envoyImg, func(dep string) string { return dep })
	checkComposeMesh(t, p, svc, bs.Name)
	for dep := range m.Deps(bs) {
		if _, ok := svc.DependsOn[dep]; !ok {
			t.Errorf("depends_on lacks %s, which it calls", dep)
		}
	}
	// The URL handed over with the secret is the one tokens name.
	issuer, _ := envValue(p.Services["token"], "ISSUER")
	if u, _ := envValue(svc, "AGENTIDP_URL"); u != issuer {
		t.Errorf("AGENTIDP_URL=%q, the token service's ISSUER is %q", u, issuer)
	}
}

// checkBootstrapArgs checks a command line that runs `agentidp bootstrap`
// with the given kind of output (stdout, k8s-secret, vault): the
// subcommand, one --output, and no flag that would rotate or replace on
// every run (those are an operator's decision, never a deployment's).
func checkBootstrapArgs(t *testing.T, args []string, output string) string {
	t.Helper()
	if len(args) == 0 || args[0] != "bootstrap" {
		t.Errorf("command %v, want `bootstrap ...` (the image's entrypoint is agentidp)", args)
		return ""
	}
	var value string
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--output" || a == "-o":
			if i+1 < len(args) {
				value = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--output="):
			value = strings.TrimPrefix(a, "--output=")
		case a == "--rotate" || a == "--rotate-if-missing" || a == "--force":
			t.Errorf("command %v passes %s: every run would rotate or replace the admin", args, a)
		}
	}
	kind, arg, _ := strings.Cut(value, "=")
	if kind != output || (output != "stdout" && arg == "") {
		t.Errorf("command %v: --output %q, want %s", args, value, output)
	}
	return arg
}

// checkComposeRedisACL: every service that uses Redis logs in as its own
// ACL user (libs/redisacl) to one database (the audit stream: token and
// authz write where audit reads), and docker/redis/users.acl is exactly
// what libs/redisacl renders for those users' passwords and the operator's
// (the healthcheck's): the rules cannot drift from the code's.
func checkComposeRedisACL(t *testing.T, root string, urls map[string]string, healthcheck []string) {
	t.Helper()
	passwords := map[string]string{}
	hosts := map[string]bool{}
	for name, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || pu.User == nil {
			t.Errorf("%s: REDIS_URL %q names no ACL user", name, u)
			continue
		}
		pw, _ := pu.User.Password()
		if pu.User.Username() != name || pw == "" {
			t.Errorf("%s: REDIS_URL logs in as %q; want its own user %q with a password", name, pu.User.Username(), name)
		}
		passwords[name] = pw
		hosts[pu.Host+pu.Path] = true
	}
	if len(hosts) != 1 {
		t.Errorf("services use different Redis databases %v; the audit stream needs one", hosts)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(passwords)), slices.Sorted(slices.Values(redisacl.Names()))) {
		t.Errorf("services with a REDIS_URL %v, want libs/redisacl's users %v", slices.Sorted(maps.Keys(passwords)), redisacl.Names())
	}
	i := slices.Index(healthcheck, "--pass")
	if i < 0 || i+1 >= len(healthcheck) || !slices.Contains(healthcheck, redisacl.Operator) {
		t.Fatalf("redis healthcheck %v: want redis-cli --user %s --pass …", healthcheck, redisacl.Operator)
	}
	passwords[redisacl.Operator] = healthcheck[i+1]
	want, err := redisacl.File(passwords)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "deploy", "docker", "redis", "users.acl")
	if os.Getenv("UPDATE_ACL") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("deploy/docker/redis/users.acl is not what libs/redisacl renders (UPDATE_ACL=1 go test ./deploy/checks writes it):\n%s", want)
	}
}

// checkComposeMesh: a container's mesh certificate comes from the
// mesh-certs step, its own identity's directory of the mesh volume mounted
// read-only where TLS_CERT_FILE points, and it starts after the step.
func checkComposeMesh(t *testing.T, p *types.Project, svc types.ServiceConfig, identity string) {
	t.Helper()
	certFile, _ := envValue(svc, "TLS_CERT_FILE")
	checkComposeMeshAt(t, p, svc, identity, filepath.Dir(certFile))
	if d, ok := svc.DependsOn["mesh-certs"]; !ok || d.Condition != "service_completed_successfully" {
		t.Errorf("does not wait for mesh-certs (service_completed_successfully)")
	}
}

// checkComposeMeshAt checks the mount of identity's directory at target.
func checkComposeMeshAt(t *testing.T, p *types.Project, svc types.ServiceConfig, identity, target string) {
	t.Helper()
	var mounted bool
	for _, v := range svc.Volumes {
		if v.Type == "volume" && v.Source == "mesh" {
			if v.Volume == nil || v.Volume.Subpath != identity || !v.ReadOnly || v.Target != target {
				t.Errorf("mounts the mesh volume as %+v; want its own directory (subpath %s) read-only at %s", v, identity, target)
			}
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("does not mount its mesh certificate (the mesh volume, subpath %s)", identity)
	}
	mc, ok := p.Services["mesh-certs"]
	if !ok {
		t.Fatal("no mesh-certs one-shot")
	}
	if mc.Command == nil || mc.Command[0] != "mesh-certs" {
		t.Errorf("mesh-certs runs %v, want agentidp mesh-certs", mc.Command)
	}
}
