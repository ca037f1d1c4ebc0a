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
		mux := serve.AdminMux(prometheus.NewRegistry(), health.NewChecker(health.Config{Logger: slog.New(slog.DiscardHandler)}), serve.WithProfiling(on))
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if got, want := rec.Code == http.StatusOK, on; got != want {
				t.Errorf("profiling %v: GET %s = %d", on, path, rec.Code)
			}
		}
	}
}

func TestClosersCloseLastOpenedFirstOnce(t *testing.T) {
	var got []int
	var c serve.Closers
	for i := range 3 {
		c.Add(func() { got = append(got, i) })
	}
	c.Close()
	c.Close()
	if len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("closed %v, want [2 1 0]", got)
	}
}
