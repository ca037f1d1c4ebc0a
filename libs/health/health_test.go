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

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	libhealth "github.com/sentryagent/agentidp/libs/health"
)

func TestCheckerDrivesGRPCHealthAndReadyz(t *testing.T) {
	hs := health.NewServer()
	c := libhealth.NewChecker(hs, slog.New(slog.DiscardHandler))
	var dbDown atomic.Bool
	c.Add("postgres", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	c.Add("redis", func(context.Context) error { return nil })
	c.AddInformational("registry", func(context.Context) error { return errors.New("down") })

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
