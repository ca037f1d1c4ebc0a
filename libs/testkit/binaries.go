package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// GoBinary builds a main package of the workspace (e.g.
// "github.com/sentryagent/agentidp/services/registry/cmd/registry") once
// per test binary and returns its path. Tests use it to run another
// service as the real process it is in production.
func GoBinary(t testing.TB, pkg string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "agentidp-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	sharedMu.Lock()
	sharedDirs = append(sharedDirs, dir)
	sharedMu.Unlock()
	built[pkg] = out
	return out
}

// PlaintextEnv is the development flag that lets a service run without
// mesh certificates (libs/config.Mesh).
const PlaintextEnv = "AGENTIDP_INSECURE_PLAINTEXT=true"

// Server is a service process started by a test.
type Server struct {
	Addr string // its gRPC (or main) address
	proc *Process
}

// StartServer runs bin with env added to the environment, waits until addr
// accepts connections, and stops the process when the test ends. Its output
// goes to the test log on failure.
//
// A service started alone by a test serves and dials plaintext
// (AGENTIDP_INSECURE_PLAINTEXT, the development flag) unless env gives it
// mesh certificates (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE), which
// win: the mesh's mutual TLS is tested by libs/mtls, libs/grpcserver and
// the stack (deploy/local), which always runs with it.
func StartServer(t testing.TB, bin string, addr string, env ...string) *Server {
	t.Helper()
	logFile, err := os.CreateTemp("", "agentidp-server-*.log")
	if err != nil {
		t.Fatal(err)
	}
	logPath := logFile.Name()
	logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), PlaintextEnv), env...)
	proc, err := StartProcess(cmd, logPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: addr, proc: proc}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s output:\n%s", filepath.Base(bin), tail(string(b), 4000))
		}
		_ = os.Remove(logPath)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-proc.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := WaitTCP(ctx, addr, 60*time.Second); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s did not start: %v\n%s", filepath.Base(bin), err, tail(string(b), 4000))
	}
	return s
}

// Stop sends SIGTERM and waits.
func (s *Server) Stop() { s.proc.Stop(syscall.SIGTERM, 10*time.Second) }

// Kill ends the process at once.
func (s *Server) Kill() { s.proc.Stop(syscall.SIGKILL, time.Second) }

// String names the server in messages.
func (s *Server) String() string { return fmt.Sprintf("server on %s", s.Addr) }
