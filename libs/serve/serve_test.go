package serve_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/serve"
)

func TestProfilingIsOffUnlessAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		mux := serve.AdminMux(prometheus.NewRegistry(), health.NewChecker(nil, slog.New(slog.DiscardHandler)), serve.WithProfiling(on))
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if got, want := rec.Code == http.StatusOK, on; got != want {
				t.Errorf("profiling %v: GET %s = %d", on, path, rec.Code)
			}
		}
	}
}
