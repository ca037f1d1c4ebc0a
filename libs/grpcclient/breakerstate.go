package grpcclient

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// BreakerState exports the state of every circuit breaker of a process as
// agentidp_grpc_client_breaker_state{dependency}: 0 closed, 1 half-open,
// 2 open. It reads each breaker when Prometheus scrapes, so an open breaker
// whose timeout has passed reads half-open even before the next call.
type BreakerState struct {
	desc *prometheus.Desc

	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[struct{}]
}

// NewBreakerState registers the gauge on reg (or returns the one already
// registered there). Pass it as Config.BreakerState to every Dial.
func NewBreakerState(reg prometheus.Registerer) *BreakerState {
	b := &BreakerState{
		desc: prometheus.NewDesc(metrics.Namespace+"_grpc_client_breaker_state",
			"State of the circuit breaker in front of a dependency: 0 closed, 1 half-open, 2 open.",
			[]string{"dependency"}, nil),
		breakers: map[string]*gobreaker.CircuitBreaker[struct{}]{},
	}
	if err := reg.Register(b); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*BreakerState); ok {
				return existing
			}
		}
		panic(err) // a programming error: another metric with this name
	}
	return b
}

func (b *BreakerState) add(name string, cb *gobreaker.CircuitBreaker[struct{}]) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.breakers[name] = cb
}

// Describe implements prometheus.Collector.
func (b *BreakerState) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect implements prometheus.Collector.
func (b *BreakerState) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, cb := range b.breakers {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(cb.State()), name)
	}
}
