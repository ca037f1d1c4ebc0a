// Package readiness serves the gateway's /readyz: the platform is ready
// when every configured service has at least one endpoint that answers
// grpc.health.v1 SERVING (gRPC services) or GET /readyz with 200 (HTTP
// services such as token).
package readiness

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
	"github.com/sentryagent/agentidp/gateway/internal/topology"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// Services returns the services and endpoints to probe: the current
// configuration, as configured (names, not resolved addresses, so the
// report reads like the config file).
type Services func() map[string][]string

// Checker probes endpoints on demand. Probes are cheap and /readyz is
// polled by orchestrators every few seconds, so there is no cache.
type Checker struct {
	services Services
	timeout  time.Duration

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by endpoint, reused across probes
	http  *http.Client
	mesh  *mtls.Source // nil: plaintext (development)
}

// New returns a checker that gives each probe timeout (default 1s). With
// mesh, probes go over mutual TLS as the gateway's identity (the services
// accept nothing else); nil probes plaintext.
func New(services Services, timeout time.Duration, mesh *mtls.Source) *Checker {
	if timeout <= 0 {
		timeout = time.Second
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: timeout}).DialContext,
	}
	if mesh != nil {
		// The only HTTP service probed is the token service.
		tr.TLSClientConfig = mesh.ClientTLS(mtls.Token)
	}
	return &Checker{services: services, timeout: timeout, conns: map[string]*grpc.ClientConn{}, mesh: mesh,
		http: &http.Client{Timeout: timeout, Transport: tr}}
}

// FromConfig adapts a function returning the current config.
func FromConfig(current func() *topology.Config) Services {
	return func() map[string][]string {
		cfg := current()
		if cfg == nil {
			return nil
		}
		out := make(map[string][]string, len(cfg.Services))
		for name, svc := range cfg.Services {
			out[name] = svc.Endpoints
		}
		return out
	}
}

// Report is the JSON body of /readyz.
type Report struct {
	Status   string                   `json:"status"` // "ready" or "not_ready"
	Services map[string]ServiceReport `json:"services"`
}

// ServiceReport is one service's health and each endpoint's.
type ServiceReport struct {
	Status    string            `json:"status"` // SERVING if any endpoint is
	Endpoints map[string]string `json:"endpoints"`
}

// Check probes every endpoint of every service concurrently.
func (c *Checker) Check(ctx context.Context) Report {
	services := c.services()
	type result struct{ service, endpoint, status string }
	results := make(chan result)
	var wg sync.WaitGroup
	for name, eps := range services {
		for _, ep := range eps {
			probe := func(ctx context.Context, ep string) string { return c.probe(ctx, name, ep) }
			if svc, ok := catalog.Lookup(name); ok && svc.Protocol == catalog.HTTP {
				probe = func(ctx context.Context, ep string) string { return c.probeHTTP(ctx, ep, svc.ReadinessPath) }
			}
			wg.Go(func() { results <- result{name, ep, probe(ctx, ep)} })
		}
	}
	go func() { wg.Wait(); close(results) }()
	c.prune(services)

	rep := Report{Status: "ready", Services: make(map[string]ServiceReport, len(services))}
	for name := range services {
		rep.Services[name] = ServiceReport{Status: "NOT_SERVING", Endpoints: map[string]string{}}
	}
	for r := range results {
		sr := rep.Services[r.service]
		sr.Endpoints[r.endpoint] = r.status
		if r.status == healthpb.HealthCheckResponse_SERVING.String() {
			sr.Status = r.status
		}
		rep.Services[r.service] = sr
	}
	if len(services) == 0 {
		rep.Status = "not_ready"
	}
	for _, sr := range rep.Services {
		if sr.Status != healthpb.HealthCheckResponse_SERVING.String() {
			rep.Status = "not_ready"
		}
	}
	return rep
}

// probe returns the endpoint's serving status, or UNREACHABLE.
func (c *Checker) probe(ctx context.Context, service, endpoint string) string {
	conn, err := c.conn(service, endpoint)
	if err != nil {
		return "UNREACHABLE"
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return "UNREACHABLE"
	}
	return resp.GetStatus().String()
}

// probeHTTP reads an HTTP service's readiness endpoint: 200 is SERVING,
// any other answer NOT_SERVING, no answer UNREACHABLE.
func (c *Checker) probeHTTP(ctx context.Context, endpoint, path string) string {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	scheme := "http://"
	if c.mesh != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+endpoint+path, nil)
	if err != nil {
		return "UNREACHABLE"
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "UNREACHABLE"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return healthpb.HealthCheckResponse_NOT_SERVING.String()
	}
	return healthpb.HealthCheckResponse_SERVING.String()
}

func (c *Checker) conn(service, endpoint string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[endpoint]; ok {
		return conn, nil
	}
	creds := insecure.NewCredentials()
	if c.mesh != nil {
		creds = c.mesh.ClientCredentials(service)
	}
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(creds),
		// A restarted service must read as SERVING on the next probe, not
		// after grpc's default reconnect backoff of up to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: c.timeout,
		}))
	if err != nil {
		return nil, err
	}
	c.conns[endpoint] = conn
	return conn, nil
}

// prune closes connections to endpoints no longer configured.
func (c *Checker) prune(services map[string][]string) {
	keep := map[string]bool{}
	for _, eps := range services {
		for _, ep := range eps {
			keep[ep] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ep, conn := range c.conns {
		if !keep[ep] {
			_ = conn.Close()
			delete(c.conns, ep)
		}
	}
}

// Close releases the probe connections.
func (c *Checker) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ep, conn := range c.conns {
		_ = conn.Close()
		delete(c.conns, ep)
	}
	c.http.CloseIdleConnections()
	return nil
}

// Handler serves /readyz: 200 when ready, 503 otherwise, with the report.
func (c *Checker) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := c.Check(r.Context())
		code := http.StatusOK
		if rep.Status != "ready" {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
	})
}
