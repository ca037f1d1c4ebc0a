package readiness

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthServer serves grpc.health.v1 reporting st, and returns its address.
func healthServer(t *testing.T, st healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", st)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// httpServer answers GET /readyz with code (an HTTP service such as
// token), and returns its address.
func httpServer(t *testing.T, code int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestHandler(t *testing.T) {
	serving := healthServer(t, healthpb.HealthCheckResponse_SERVING)
	notServing := healthServer(t, healthpb.HealthCheckResponse_NOT_SERVING)
	dead := closedAddr(t)
	httpReady := httpServer(t, http.StatusOK)
	httpNotReady := httpServer(t, http.StatusServiceUnavailable)

	tests := []struct {
		name       string
		services   map[string][]string
		wantCode   int
		wantStatus string
		want       map[string]ServiceReport
	}{
		{
			name:     "one serving endpoint is enough",
			services: map[string][]string{"registry": {serving, dead, notServing}},
			wantCode: 200, wantStatus: "ready",
			want: map[string]ServiceReport{"registry": {Status: "SERVING", Endpoints: map[string]string{
				serving: "SERVING", dead: "UNREACHABLE", notServing: "NOT_SERVING"}}},
		},
		{
			name:     "a service with none is not ready",
			services: map[string][]string{"registry": {serving}, "audit": {notServing, dead}},
			wantCode: 503, wantStatus: "not_ready",
			want: map[string]ServiceReport{
				"registry": {Status: "SERVING", Endpoints: map[string]string{serving: "SERVING"}},
				"audit":    {Status: "NOT_SERVING", Endpoints: map[string]string{notServing: "NOT_SERVING", dead: "UNREACHABLE"}},
			},
		},
		{
			name:     "HTTP services are probed with GET /readyz",
			services: map[string][]string{"registry": {serving}, "token": {httpReady, httpNotReady, dead}},
			wantCode: 200, wantStatus: "ready",
			want: map[string]ServiceReport{
				"registry": {Status: "SERVING", Endpoints: map[string]string{serving: "SERVING"}},
				"token": {Status: "SERVING", Endpoints: map[string]string{
					httpReady: "SERVING", httpNotReady: "NOT_SERVING", dead: "UNREACHABLE"}},
			},
		},
		{
			name:     "an HTTP service with no ready endpoint is not ready",
			services: map[string][]string{"registry": {serving}, "token": {httpNotReady}},
			wantCode: 503, wantStatus: "not_ready",
			want: map[string]ServiceReport{
				"registry": {Status: "SERVING", Endpoints: map[string]string{serving: "SERVING"}},
				"token":    {Status: "NOT_SERVING", Endpoints: map[string]string{httpNotReady: "NOT_SERVING"}},
			},
		},
		{
			name:     "no configuration yet",
			services: nil,
			wantCode: 503, wantStatus: "not_ready", want: map[string]ServiceReport{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(func() map[string][]string { return tt.services }, 500*time.Millisecond, nil)
			defer c.Close()
			rec := httptest.NewRecorder()
			start := time.Now()
			c.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/readyz", nil))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("probe took %s", d)
			}
			if rec.Code != tt.wantCode {
				t.Errorf("code = %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			var rep Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", rep.Status, tt.wantStatus)
			}
			if got, want := mustJSON(t, rep.Services), mustJSON(t, tt.want); got != want {
				t.Errorf("services = %s\nwant %s", got, want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
