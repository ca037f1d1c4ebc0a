package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// TestMainOptions describe the mesh a test binary runs against (see
// TestMain).
type TestMainOptions struct {
	// Name prefixes the temporary directory ("agentidp-<Name>-").
	Name string
	// Configure may adjust the configuration before the mesh starts (Dir,
	// Ports and Logger are filled in); an error stops the run.
	Configure func(dir string, cfg *Config) error
	// Ready runs once the mesh is up and the platform admin exists (it is
	// also written to dir/env); the package keeps what its tests need. An
	// error stops the run with the processes' logs.
	Ready func(ctx context.Context, s *Stack, admin Admin) error
	// NoAdmin leaves the deployment without an admin (Ready gets a zero
	// Admin): for the tests of the bootstrap itself.
	NoAdmin bool
}

// TestMain is the TestMain of a package whose tests need the whole mesh:
// unless the binary runs with -test.short, it starts a mesh on free ports
// in a temporary directory, bootstraps the platform admin, runs the tests, prints
// the tail of every process's log if they fail, and stops the mesh. It
// returns the exit code for os.Exit. In -short mode the tests run without
// a mesh (they skip themselves).
func TestMain(m interface{ Run() int }, o TestMainOptions) int {
	if Short() {
		return m.Run()
	}
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %s: %v\n", o.Name, what, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "agentidp-"+o.Name+"-")
	if err != nil {
		return fail("temporary directory", err)
	}
	defer os.RemoveAll(dir)
	ports, err := FreePorts()
	if err != nil {
		return fail("free ports", err)
	}
	cfg := Config{Dir: dir, Ports: ports,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if o.Configure != nil {
		if err := o.Configure(dir, &cfg); err != nil {
			return fail("configure", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		DumpLogs(dir) // the directory goes with the run: say why here
		return fail("start stack", err)
	}
	defer s.Stop()
	var admin Admin
	if !o.NoAdmin {
		admin, err = s.BootstrapAdmin(ctx, filepath.Join(dir, "env"))
	}
	if err == nil && o.Ready != nil {
		err = o.Ready(ctx, s, admin)
	}
	if err != nil {
		DumpLogs(dir)
		return fail("bootstrap admin or Ready", err)
	}
	code := m.Run()
	// A service refused by Redis's ACL (libs/redisacl) lacks a permission
	// its job needs: the suite fails, naming what was refused.
	if denials, err := s.RedisDenials(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: reading Redis's ACL log: %v\n", o.Name, err)
	} else if len(denials) > 0 {
		fmt.Fprintf(os.Stderr, "%s: Redis refused services %d times (libs/redisacl lacks a permission):\n", o.Name, len(denials))
		for _, d := range denials {
			fmt.Fprintln(os.Stderr, "  "+d)
		}
		code = 1
	}
	if code != 0 {
		DumpLogs(dir)
	}
	return code
}

// InCI reports whether this is a CI run: CI is set to anything but "", 0
// or false (.ci/run sets CI=1; CI systems set CI=true). There no suite may
// skip for a missing toolchain or browser (scripts/lib.sh's in_ci decides
// the same way for the scripts).
func InCI() bool {
	v := os.Getenv("CI")
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return v != ""
}

// Short reports whether the test binary runs with -test.short (flags are
// not parsed yet when TestMain starts).
func Short() bool {
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// DumpLogs prints the last 3,000 bytes of every process log of the mesh in
// dir to standard error.
func DumpLogs(dir string) {
	entries, _ := os.ReadDir(filepath.Join(dir, "logs"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", e.Name()))
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(os.Stderr, "\n==== %s (tail) ====\n%s\n", e.Name(), b)
	}
}
