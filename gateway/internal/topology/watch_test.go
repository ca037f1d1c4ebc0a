package topology

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// configWithPort is a valid config whose one endpoint listens on port.
func configWithPort(port int) string {
	return fmt.Sprintf("listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:%d']}}\n", port)
}

func TestWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	write := func(content string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(configWithPort(1))

	applied := make(chan *Resolved, 10)
	reload := make(chan os.Signal, 1)
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "rejected"})
	w := &Watcher{
		Path:     path,
		Interval: 10 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Reload:   reload,
		Rejected: rejected,
		Apply: func(_ context.Context, res *Resolved) error {
			applied <- res
			return nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	next := func() *Resolved {
		t.Helper()
		select {
		case res := <-applied:
			return res
		case <-time.After(5 * time.Second):
			t.Fatal("nothing applied")
			return nil
		}
	}
	none := func() {
		t.Helper()
		select {
		case res := <-applied:
			t.Fatalf("unexpected apply of %v", res.Endpoints)
		case <-time.After(100 * time.Millisecond):
		}
	}

	if got := next().Endpoints["registry"][0].String(); got != "127.0.0.1:1" {
		t.Fatalf("initial endpoint = %s", got)
	}

	// Same content rewritten: nothing to do.
	write(configWithPort(1))
	none()

	// A change is applied.
	write(configWithPort(2))
	if got := next().Endpoints["registry"][0].String(); got != "127.0.0.1:2" {
		t.Fatalf("changed endpoint = %s", got)
	}

	// An invalid edit is counted and not applied.
	write("services: {nope: {}}\n")
	none()
	if got := testutil.ToFloat64(rejected); got != 1 {
		t.Errorf("rejected = %v, want 1", got)
	}

	// SIGHUP re-reads even an unchanged file; still invalid, so rejected
	// again and nothing applied.
	reload <- syscall.SIGHUP
	none()
	if got := testutil.ToFloat64(rejected); got != 2 {
		t.Errorf("rejected after reload = %v, want 2", got)
	}

	// Fixed: applied again.
	write(configWithPort(3))
	if got := next().Endpoints["registry"][0].String(); got != "127.0.0.1:3" {
		t.Fatalf("fixed endpoint = %s", got)
	}

	// SIGHUP with a valid file applies it again (the control plane then
	// finds nothing changed).
	reload <- syscall.SIGHUP
	next()
}
