// Package testkit starts real servers (PostgreSQL, Redis, Envoy, ...) on
// 127.0.0.1 with free ports and private directories, for tests and for the
// local development stack. Nothing here is a mock.
package testkit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that is free and that no other
// process using testkit will be handed while this one runs.
//
// Ports come from below the kernel's ephemeral range (32768-60999 on Linux),
// so an outgoing connection cannot take one as its source port between the
// moment it is picked and the moment a server binds it; and each is claimed
// with an advisory lock on a file under the temporary directory, held until
// this process exits, so test binaries running in parallel (go test runs
// packages concurrently) never pick the same one.
func FreePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	dir := filepath.Join(os.TempDir(), "agentidp-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, err
	}
	for range 200 {
		port := portLow + rand.IntN(portHigh-portLow)
		if ports.held[port] != nil {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // another process holds it
			continue
		}
		l, err := net.Listen("tcp", Addr(port))
		if err != nil {
			f.Close() // in use by something that is not ours
			continue
		}
		l.Close()
		ports.held[port] = f // the lock lives as long as the process
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d after 200 tries", portLow, portHigh)
}

// The range FreePort picks from: below Linux's default ephemeral range.
const portLow, portHigh = 20000, 32768

var ports = struct {
	sync.Mutex
	held map[int]*os.File
}{held: map[int]*os.File{}}

// MustFreePort is FreePort for tests.
func MustFreePort(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// WaitTCP waits until something accepts connections on addr.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SkipIfShort skips tests that need real servers under `go test -short`.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs real servers; skipped in -short mode")
	}
}

// Process is a child process that dies with its parent.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProcess starts cmd in its own process group, asking the kernel to
// kill it if this process dies first, so crashed test runs leave no
// servers behind. Output goes to logPath (appended) when it is not empty.
func StartProcess(cmd *exec.Cmd, logPath string) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
		defer f.Close() // the child keeps its own descriptor
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// PID is the process's id (it leads its own process group); 0 before it
// started.
func (p *Process) PID() int {
	if p == nil || p.Cmd.Process == nil {
		return 0
	}
	return p.Cmd.Process.Pid
}

// Err is the process's exit error, valid after Done.
func (p *Process) Err() error { return p.err }

// Stop sends sig to the process group and waits up to grace for it to exit,
// then kills the group.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	pgid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}
