package stack

import (
	"fmt"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// ProcessInfo names one OS process of a running stack, for resource
// reports (the soak test reads /proc/PID and scrapes MetricsAddr).
type ProcessInfo struct {
	// Name is the component: "postgres", "envoy", "token", "token-2", ...
	Name string
	// PID is the process the stack started (PostgreSQL's backends are its
	// children).
	PID int
	// MetricsAddr serves Prometheus /metrics for the Go processes (the
	// services and the control plane); empty for the others.
	MetricsAddr string
}

// Processes lists every process the stack started and that is running:
// data stores, services (one entry per replica), control plane and Envoy.
func (s *Stack) Processes() []ProcessInfo {
	out := []ProcessInfo{
		{Name: "postgres", PID: s.pg.PID()},
		{Name: "redis", PID: s.redis.PID()},
		{Name: "vault", PID: s.vault.PID()},
	}
	s.mu.Lock()
	for _, name := range serviceOrder {
		for i, svc := range s.services[name] {
			n := name
			if i > 0 {
				n = fmt.Sprintf("%s-%d", name, i+1)
			}
			out = append(out, ProcessInfo{Name: n, PID: svc.PID(), MetricsAddr: svc.AdminAddr})
		}
	}
	s.mu.Unlock()
	out = append(out,
		ProcessInfo{Name: "gateway", PID: s.gateway.PID(), MetricsAddr: testkit.Addr(s.cfg.Ports.GatewayHTTP)},
		ProcessInfo{Name: "envoy", PID: s.envoy.PID()},
	)
	running := out[:0]
	for _, p := range out {
		if p.PID > 0 {
			running = append(running, p)
		}
	}
	return running
}

// PID is the service's current process id (0 when it is not running).
func (p *Service) PID() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	select {
	case <-p.proc.Done():
		return 0
	default:
	}
	return p.proc.PID()
}

// PostgresURL is a connection URL (superuser) for database db of the
// stack's PostgreSQL, e.g. "postgres" to read pg_stat_activity.
func (s *Stack) PostgresURL(db string) string { return s.pg.URL(db) }
