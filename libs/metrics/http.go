package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP instruments HTTP handlers with agentidp_http_requests_total and
// agentidp_http_request_duration_seconds.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTP registers the HTTP metrics on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	return &HTTP{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "path", "status"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help: "HTTP request latency, by method and route template.", Buckets: LatencyBuckets,
		}, []string{"method", "path"})),
	}
}

// Middleware records every request. The path label is the route pattern
// that http.ServeMux matched (r.Pattern), never the raw URL, so ids in paths
// cannot explode the label set; unmatched requests count as "unmatched".
func (m *HTTP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		path := routeOf(r)
		method := normalizeMethod(r.Method)
		m.requests.WithLabelValues(method, path, strconv.Itoa(sw.status)).Inc()
		m.duration.WithLabelValues(method, path).Observe(time.Since(start).Seconds())
	})
}

func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	// Patterns may carry a method ("GET /v1/x"); the method is its own label.
	for i := 0; i < len(r.Pattern); i++ {
		if r.Pattern[i] == ' ' {
			return r.Pattern[i+1:]
		}
	}
	return r.Pattern
}

func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
