package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sentryagent/agentidp/libs/metrics"
)

func TestHTTPMiddlewareLabelsByRouteTemplate(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/agents/{agentId}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	h := metrics.NewHTTP(reg).Middleware(mux)
	for _, path := range []string{"/v1/agents/a1", "/v1/agents/b2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	want := `
# HELP agentidp_http_requests_total HTTP requests served, by method, route template and status code.
# TYPE agentidp_http_requests_total counter
agentidp_http_requests_total{method="GET",path="/v1/agents/{agentId}",status="418"} 2
agentidp_http_requests_total{method="GET",path="unmatched",status="404"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "agentidp_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}
