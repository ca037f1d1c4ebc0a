// Package metrics holds AgentIdP's Prometheus instrumentation shared by every
// service: the registry, HTTP middleware, and gRPC interceptors. Each service's
// README lists its metrics; labels never carry ids or secrets.
package metrics

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every AgentIdP metric.
const Namespace = "agentidp"

// NewRegistry returns a registry with the Go runtime and process collectors.
// Each service owns one; there is no global registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the registry in the Prometheus exposition format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// register registers c, or returns the collector already registered under
// the same descriptor, so that two components of one process can ask for
// the same metric.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different metrics with one name
	}
	return c
}

// LatencyBuckets suits calls from ~100µs to a few seconds.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Value reads one counter or gauge series from g: the first series of the
// family name whose labels include every name/value pair of labels. ok is
// false when there is no such series.
func Value(g prometheus.Gatherer, name string, labels ...string) (v float64, ok bool, err error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, false, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true, nil
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true, nil
			}
		}
	}
	return 0, false, nil
}

func hasLabels(have []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !slices.ContainsFunc(have, func(lp *dto.LabelPair) bool {
			return lp.GetName() == want[i] && lp.GetValue() == want[i+1]
		}) {
			return false
		}
	}
	return true
}
