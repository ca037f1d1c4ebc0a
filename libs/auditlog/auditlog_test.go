package auditlog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func valid() auditlog.Event {
	return auditlog.Event{ID: auditlog.NewID(), OccurredAt: time.Now(), Actor: "system",
		Action: auditlog.ActionTokenIssued, Outcome: auditlog.OutcomeSuccess, AgentID: uuid.NewString(),
		Details: map[string]string{"scope": "agents:read", "jti": "abc"}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name          string
		mutate        func(*auditlog.Event)
		reason, field string
	}{
		{"valid", func(*auditlog.Event) {}, "", ""},
		{"v4 id", func(e *auditlog.Event) { e.ID = uuid.New() }, "FIELD_INVALID", "eventId"},
		{"no time", func(e *auditlog.Event) { e.OccurredAt = time.Time{} }, "FIELD_REQUIRED", "occurredAt"},
		{"bad action", func(e *auditlog.Event) { e.Action = "tokenissued" }, "FIELD_INVALID", "action"},
		{"bad outcome", func(e *auditlog.Event) { e.Outcome = "ok" }, "FIELD_INVALID", "outcome"},
		{"upper-case agent", func(e *auditlog.Event) { e.AgentID = "x" }, "FIELD_INVALID", "agentId"},
		{"token detail", func(e *auditlog.Event) { e.Details = map[string]string{"access_token": "x"} }, "FIELD_INVALID", "details.access_token"},
		{"bearer value", func(e *auditlog.Event) { e.Details = map[string]string{"h": "Bearer abc"} }, "FIELD_INVALID", "details.h"},
		{"bad key", func(e *auditlog.Event) { e.Details = map[string]string{"a b": "x"} }, "FIELD_INVALID", "details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.mutate(&e)
			err := e.Validate()
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ae := apierror.As(err)
			if ae == nil || ae.Reason != tt.reason || ae.Field != tt.field {
				t.Fatalf("err = %v, want %s on %s", err, tt.reason, tt.field)
			}
		})
	}
}

// Normalize makes oversize and secret-bearing events storable without
// guessing at what they meant.
func TestNormalize(t *testing.T) {
	e := valid()
	e.Actor = ""
	e.Target = strings.Repeat("t", 300) + "\n"
	e.Details = map[string]string{"client_secret": "hunter2", "a-note": "agentidp_sk_abc", "big": strings.Repeat("é", 200), "bad key": "v"}
	for i := range 40 {
		e.Details["k"+strings.Repeat("x", i)] = "v"
	}
	n := auditlog.Normalize(e)
	if err := n.Validate(); err != nil {
		t.Fatalf("normalised event invalid: %v", err)
	}
	if n.Actor != "system" || len(n.Target) != auditlog.MaxTargetLen || n.Details["client_secret"] != auditlog.Redacted ||
		n.Details["a-note"] != auditlog.Redacted || n.Details[auditlog.TruncatedKey] != "true" || len(n.Details) > auditlog.MaxDetails {
		t.Fatalf("normalised = %+v %q", n, n.Details)
	}
}

func TestDerivedIDIsAStableUUIDv7(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	a, b := auditlog.DerivedID("registry", 7, at), auditlog.DerivedID("registry", 7, at)
	if a != b || a.Version() != 7 || a.Variant() != uuid.RFC4122 {
		t.Fatalf("%s %s", a, b)
	}
	if sec, nsec := a.Time().UnixTime(); time.Unix(sec, nsec).UnixMilli() != at.UnixMilli() {
		t.Fatalf("timestamp of %s is %v", a, time.Unix(sec, nsec))
	}
	if auditlog.DerivedID("registry", 8, at) == a || auditlog.DerivedID("credentials", 7, at) == a {
		t.Fatal("different entries share an id")
	}
}

func TestWithRequest(t *testing.T) {
	ctx := requestinfo.With(context.Background(), requestinfo.Info{Actor: "a1", RequestID: "r1", SourceAddress: "192.0.2.1"})
	e := auditlog.WithRequest(ctx, auditlog.Event{})
	if e.Actor != "a1" || e.RequestID != "r1" || e.SourceAddress != "192.0.2.1" {
		t.Fatalf("%+v", e)
	}
}

func TestRedisEmitterWritesTheStreamAndBuffersWhileRedisIsDown(t *testing.T) {
	opts, err := redis.ParseURL(testkit.NewRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	em := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{Stream: "s", MaxLen: 50})
	for range 60 {
		e := valid()
		e.ID = uuid.Nil // Emit assigns one
		if err := em.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := em.Emit(ctx, auditlog.Event{Action: "nope"}); apierror.As(err) == nil {
		t.Fatalf("invalid event: %v", err)
	}
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(ctx, "s", "-", "+").Result()
	if err != nil || len(msgs) < 50 || len(msgs) > 60 {
		t.Fatalf("%d entries (%v), want about 50 (MAXLEN ~)", len(msgs), err)
	}
	var p auditv1.AuditEvent
	if err := proto.Unmarshal([]byte(msgs[0].Values[auditlog.StreamField].(string)), &p); err != nil || p.GetAction() != auditlog.ActionTokenIssued {
		t.Fatalf("entry %v (%v)", &p, err)
	}
	if err := em.Emit(ctx, valid()); err != auditlog.ErrClosed {
		t.Fatalf("emit after close: %v", err)
	}

	// Redis unreachable: Emit returns within WaitFor; a full buffer drops.
	dead := redis.NewClient(&redis.Options{Addr: testkit.Addr(testkit.MustFreePort(t)), MaxRetries: -1})
	defer dead.Close()
	em = auditlog.NewRedisEmitter(dead, auditlog.RedisOptions{QueueSize: 2, MaxBatch: 1, WaitFor: 10 * time.Millisecond})
	start := time.Now()
	var dropped int
	for range 5 {
		if err := em.Emit(ctx, valid()); err == auditlog.ErrQueueFull {
			dropped++
		}
	}
	if time.Since(start) > time.Second || dropped == 0 {
		t.Fatalf("5 emits took %s, %d dropped", time.Since(start), dropped)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := em.Close(cctx); err == nil {
		t.Fatal("close reported every event written to a Redis that is down")
	}
}
