package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// MaxBatch is the most events one Record call (or one ingested batch) holds.
const MaxBatch = 1000

// Service is the audit log's use-case API. Reads act for the caller in ctx
// (libs/requestinfo): a caller without platform:admin reads only its own
// owner's events, and only the platform verifies the chain (it spans every
// owner).
type Service interface {
	// Record appends events from source, all or nothing, skipping those
	// whose id was recorded before. Events are validated strictly.
	Record(ctx context.Context, source string, events []auditlog.Event) (RecordResult, error)
	Get(ctx context.Context, id string) (Event, error)
	List(ctx context.Context, q Query) (Page, error)
	Verify(ctx context.Context, r Range) (Verification, error)
	// ListCheckpoints pages through the signed checkpoints (platform only:
	// they span every owner).
	ListCheckpoints(ctx context.Context, q CheckpointQuery) (CheckpointPage, error)
}

// RecordResult counts what a Record call did.
type RecordResult struct {
	Recorded   int
	Duplicates int
}

// Store persists the log. Implementations must keep the chain linear
// (appends are serialised) and pass storetest's suite.
type Store interface {
	// Append assigns the next sequences to the events whose id is new,
	// chains them, and stores them with RecordedAt = max(now, head's), in
	// one transaction. It returns the events stored.
	Append(ctx context.Context, events []auditlog.Event, now time.Time) ([]Event, error)
	// Get returns ErrNotFound for an unknown id.
	Get(ctx context.Context, id uuid.UUID) (Event, error)
	// List returns up to limit events matching f, newest first, strictly
	// after position after (nil: from the newest).
	List(ctx context.Context, f Filter, after *Position, limit int) ([]Event, error)
	ChainReader
}

// Metrics of the service; nil fields are not recorded.
type Metrics struct {
	Ingested      *prometheus.CounterVec // labels: source
	Duplicates    *prometheus.CounterVec // labels: source
	Lag           *prometheus.GaugeVec   // labels: source
	Verifications *prometheus.CounterVec // labels: result
}

// NewMetrics registers the audit metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "audit_events_ingested_total",
			Help: "Audit events stored, by source (api, registry, credentials, stream, retention).",
		}, []string{"source"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "audit_events_duplicate_total",
			Help: "Redelivered audit events ignored because their event id was already stored, by source.",
		}, []string{"source"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "audit_ingest_lag_seconds",
			Help: "Delay between the occurrence and the storage of the newest event stored from each source (the audit outbox lag).",
		}, []string{"source"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "audit_chain_verifications_total",
			Help: "Hash-chain verifications, by result (ok, broken).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.Ingested, m.Duplicates, m.Lag, m.Verifications)
	return m
}

// Config holds the service's dependencies.
type Config struct {
	Store Store
	// Now defaults to time.Now.
	Now     func() time.Time
	Metrics *Metrics
	// Checkpoints, when set, are the signed checkpoints Verify proves the
	// log against (nil: the hash chain alone).
	Checkpoints Checkpoints
	// CheckpointStore, when set, serves ListCheckpoints.
	CheckpointStore CheckpointLister
}

// CheckpointLister lists stored checkpoints, oldest first.
type CheckpointLister interface {
	ListCheckpoints(ctx context.Context, from int64, limit int) ([]Checkpoint, error)
}

type service struct {
	store       Store
	now         func() time.Time
	metrics     *Metrics
	checkpoints Checkpoints
	cpStore     CheckpointLister
}

// NewService returns the audit Service.
func NewService(cfg Config) Service {
	s := &service{store: cfg.Store, now: cfg.Now, metrics: cfg.Metrics, checkpoints: cfg.Checkpoints, cpStore: cfg.CheckpointStore}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = &Metrics{}
	}
	return s
}

func (s *service) Record(ctx context.Context, source string, events []auditlog.Event) (RecordResult, error) {
	if len(events) == 0 {
		return RecordResult{}, fieldError(errRequired, "events", "events must hold at least one event")
	}
	if len(events) > MaxBatch {
		return RecordResult{}, fieldError(errTooMany, "events", "at most %d events per call", MaxBatch)
	}
	batch := make([]auditlog.Event, 0, len(events))
	seen := make(map[uuid.UUID]bool, len(events))
	for i, e := range events {
		e, err := Check(e)
		if err != nil {
			return RecordResult{}, prefixField(err, fmt.Sprintf("events[%d].", i))
		}
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		batch = append(batch, e)
	}
	stored, err := s.store.Append(ctx, batch, s.now())
	if err != nil {
		return RecordResult{}, err
	}
	res := RecordResult{Recorded: len(stored), Duplicates: len(events) - len(stored)}
	s.observe(source, stored, res.Duplicates)
	return res, nil
}

func (s *service) observe(source string, stored []Event, duplicates int) {
	if m := s.metrics.Ingested; m != nil {
		m.WithLabelValues(source).Add(float64(len(stored)))
	}
	if m := s.metrics.Duplicates; m != nil && duplicates > 0 {
		m.WithLabelValues(source).Add(float64(duplicates))
	}
	if m := s.metrics.Lag; m != nil && len(stored) > 0 {
		last := stored[len(stored)-1]
		m.WithLabelValues(source).Set(max(0, last.RecordedAt.Sub(last.OccurredAt).Seconds()))
	}
}

// Check returns e in its canonical form if the log accepts it from a
// producer, or the reason it does not.
func Check(e auditlog.Event) (auditlog.Event, error) {
	e = canonical(e)
	if err := e.Validate(); err != nil {
		return e, err
	}
	if strings.HasPrefix(e.Action, auditlog.ReservedActionPrefix) {
		return e, fieldError(errInvalid, "action", "%s* actions are recorded by the audit service itself", auditlog.ReservedActionPrefix)
	}
	return e, nil
}

// canonical puts e in the form it is stored and hashed in: UTC microseconds
// and a lower-case agent id.
func canonical(e auditlog.Event) auditlog.Event {
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	e.AgentID = strings.ToLower(e.AgentID)
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return e
}

func prefixField(err error, prefix string) error {
	if e := asAPIError(err); e != nil && e.Field != "" {
		return e.WithField(prefix + e.Field)
	}
	return err
}

func (s *service) Get(ctx context.Context, id string) (Event, error) {
	uid, err := parseUUID("eventId", id, true)
	if err != nil {
		return Event{}, err
	}
	e, err := s.store.Get(ctx, uid)
	if err == nil && !requestinfo.From(ctx).Sees(e.Owner) {
		return Event{}, ErrNotFound.WithMessage("audit event %s not found", uid)
	}
	return e, err
}

func (s *service) List(ctx context.Context, q Query) (Page, error) {
	if q.PageSize < 1 || q.PageSize > MaxPageSize {
		return Page{}, fieldError(errPageSize, "pageSize", "pageSize must be between 1 and %d (omit it for %d)", MaxPageSize, DefaultPageSize)
	}
	f, err := q.Filter.checked()
	if err != nil {
		return Page{}, err
	}
	if owner, confined := requestinfo.From(ctx).OwnerScope(); confined {
		if f.Owner != "" && f.Owner != owner {
			return Page{}, nil // another owner's events do not exist for the caller
		}
		f.Owner = owner
	}
	var after *Position
	if q.PageToken != "" {
		p, err := decodePageToken(q.PageToken, f)
		if err != nil {
			return Page{}, err
		}
		after = &p
	}
	// One extra row tells whether another page exists.
	events, err := s.store.List(ctx, f, after, q.PageSize+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Events: events}
	if len(events) > q.PageSize {
		page.Events = events[:q.PageSize]
		last := page.Events[q.PageSize-1]
		page.NextPageToken = encodePageToken(Position{OccurredAt: last.OccurredAt, Sequence: last.Sequence}, f)
	}
	return page, nil
}

// checked returns f as the store queries it (times in UTC), or why no
// event can match it.
func (f Filter) checked() (Filter, error) {
	if f.Action != "" && !auditlog.ValidAction(f.Action) {
		return f, fieldError(errInvalid, "action", `action must look like "agent.registered"`)
	}
	switch f.Outcome {
	case "", auditlog.OutcomeSuccess, auditlog.OutcomeFailure, auditlog.OutcomeDenied:
	default:
		return f, fieldError(errInvalid, "outcome", "outcome must be success, failure or denied")
	}
	if len(f.Actor) > auditlog.MaxActorLen {
		return f, fieldError(errTooLong, "actor", "actor is longer than %d bytes", auditlog.MaxActorLen)
	}
	if len(f.Owner) > auditlog.MaxOwnerLen {
		return f, fieldError(errTooLong, "owner", "owner is longer than %d bytes", auditlog.MaxOwnerLen)
	}
	if !utf8.ValidString(f.Owner) || strings.IndexByte(f.Owner, 0) >= 0 {
		return f, fieldError(errInvalid, "owner", "owner must be UTF-8 without NUL characters")
	}
	if !utf8.ValidString(f.Actor) || strings.IndexByte(f.Actor, 0) >= 0 {
		// PostgreSQL text cannot hold either: the query would fail (a 500),
		// and no recorded actor contains them.
		return f, fieldError(errInvalid, "actor", "actor must be UTF-8 without NUL characters")
	}
	f.Start, f.End = f.Start.UTC(), f.End.UTC()
	if !f.Start.IsZero() && !f.End.IsZero() && !f.Start.Before(f.End) {
		return f, fieldError(errTimeRange, "startTime", "startTime must be before endTime")
	}
	return f, nil
}

// ParseAgentID parses an agentId filter value.
func ParseAgentID(s string) (uuid.UUID, error) { return parseUUID("agentId", s, false) }

// parseUUID accepts the canonical UUID form only.
func parseUUID(field, s string, required bool) (uuid.UUID, error) {
	if s == "" {
		if required {
			return uuid.Nil, fieldError(errRequired, field, "%s is required", field)
		}
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, fieldError(errInvalid, field, "%s must be a UUID", field)
	}
	return id, nil
}
