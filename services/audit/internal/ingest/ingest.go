// Package ingest brings events into the audit log from where other services
// leave them: the registry's and the credentials service's change feeds
// (transactional outboxes served over gRPC) and the Redis stream that
// services without a database write to. Every source delivers at least
// once; the log stores each event id once.
package ingest

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Recorder stores a batch of events from a source (audit.Service fits).
type Recorder interface {
	Record(ctx context.Context, source string, events []auditlog.Event) (audit.RecordResult, error)
}

// Sink validates what a source delivers and records the valid events. An
// event that can never be valid is logged, counted and skipped, so that one
// bad entry cannot stall a feed forever (the stream consumer also keeps it
// in a dead-letter stream).
type Sink struct {
	Recorder Recorder
	Logger   *slog.Logger
	rejected *prometheus.CounterVec
}

// NewSink returns a sink; reg (optional) receives
// agentidp_audit_events_rejected_total{source}.
func NewSink(rec Recorder, logger *slog.Logger, reg prometheus.Registerer) *Sink {
	s := &Sink{Recorder: rec, Logger: logger, rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "audit_events_rejected_total",
		Help: "Events a source delivered that can never be stored (malformed), by source.",
	}, []string{"source"})}
	if reg != nil {
		reg.MustRegister(s.rejected)
	}
	return s
}

// record stores the valid events of batch and returns the invalid ones.
func (s *Sink) record(ctx context.Context, source string, batch []auditlog.Event) (invalid []rejected, err error) {
	valid, invalid := s.check(source, batch)
	return invalid, s.recordValid(ctx, source, valid)
}

// check separates the events that can be stored from those that never can
// (logged and counted), so that one malformed event does not hold up the
// others.
func (s *Sink) check(source string, batch []auditlog.Event) (valid []auditlog.Event, invalid []rejected) {
	valid = batch[:0:0]
	for _, e := range batch {
		e, err := audit.Check(e)
		if err != nil {
			s.rejected.WithLabelValues(source).Inc()
			s.Logger.Error("audit event rejected", "source", source, "event_id", e.ID.String(), "action", e.Action, "error", err)
			invalid = append(invalid, rejected{event: e, err: err})
			continue
		}
		valid = append(valid, e)
	}
	return valid, invalid
}

// recordValid stores events that passed check, audit.MaxBatch at a time.
func (s *Sink) recordValid(ctx context.Context, source string, valid []auditlog.Event) error {
	for len(valid) > 0 {
		n := min(len(valid), audit.MaxBatch)
		if _, err := s.Recorder.Record(ctx, source, valid[:n]); err != nil {
			return err
		}
		valid = valid[n:]
	}
	return nil
}

type rejected struct {
	event auditlog.Event
	err   error
}

// actor defaults an empty actor to "system".
func actor(a string) string {
	if a == "" {
		return auditlog.ActorSystem
	}
	return a
}

// feedAction maps a feed's event type to an action "<noun>.<type>", or
// "<noun>.unknown" for a type that is not a valid action word.
func feedAction(noun, typ string) string {
	if a := noun + "." + typ; auditlog.ValidAction(a) {
		return a
	}
	return noun + ".unknown"
}
