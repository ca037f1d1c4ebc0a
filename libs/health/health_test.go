package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	libhealth "github.com/sentryagent/agentidp/libs/health"
)

func TestCheckerDrivesGRPCHealthAndReadyz(t *testing.T) {
	hs := health.NewServer()
	var dbDown atomic.Bool
	c := libhealth.NewChecker(libhealth.Config{GRPC: hs, Logger: slog.New(slog.DiscardHandler),
		Checks: map[string]libhealth.Check{
			"postgres": func(context.Context) error {
				if dbDown.Load() {
					return errors.New("connection refused")
				}
				return nil
			},
			"redis": func(context.Context) error { return nil },
		},
		Informational: map[string]libhealth.Check{"registry": func(context.Context) error { return errors.New("down") }},
	})

	grpcStatus := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	readyz := func() (int, libhealth.Report) {
		rec := httptest.NewRecorder()
		c.ReadyHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var rep libhealth.Report
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		return rec.Code, rep
	}

	if !c.CheckNow(context.Background()) || grpcStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatal("all checks pass but not serving")
	}
	if code, rep := readyz(); code != http.StatusOK || rep.Status != "ready" || rep.Checks["postgres"] != "ok" || rep.Checks["registry"] != "down" {
		t.Fatalf("readyz %d %+v", code, rep)
	}

	dbDown.Store(true)
	if c.CheckNow(context.Background()) || grpcStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatal("a failing check must make the service not ready")
	}
	if code, rep := readyz(); code != http.StatusServiceUnavailable || rep.Checks["postgres"] != "connection refused" || rep.Checks["redis"] != "ok" {
		t.Fatalf("readyz %d %+v", code, rep)
	}
}

// A Recheck notification starts a round at once, long before the next tick;
// notifying never blocks, even with nobody receiving.
func TestRecheck(t *testing.T) {
	recheck := libhealth.NewRecheck()
	for range 3 {
		recheck.Notify() // merged into one pending round
	}
	var feedLive atomic.Bool
	c := libhealth.NewChecker(libhealth.Config{Recheck: recheck, Checks: map[string]libhealth.Check{
		"feed": func(context.Context) error {
			if !feedLive.Load() {
				return errors.New("not caught up")
			}
			return nil
		},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if c.Ready() {
		t.Fatal("ready before the feed caught up")
	}
	feedLive.Store(true)
	recheck.Notify()
	deadline := time.Now().Add(time.Second) // the tick is 2s away
	for !c.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("a notified Recheck did not start a round")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var none libhealth.Recheck
	none.Notify()
}
