package ingest_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/libs/auditlog"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	"github.com/sentryagent/agentidp/services/audit/internal/ingest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newSink(t *testing.T) (*ingest.Sink, *audittest.DB, audit.Service) {
	t.Helper()
	db := audittest.New(t)
	svc := audit.NewService(audit.Config{Store: db.Store})
	return ingest.NewSink(svc, slog.New(slog.NewTextHandler(testWriter{t}, nil)), prometheus.NewRegistry()), db, svc
}

func openRedis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testkit.NewRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// all lists every event in the log, newest first.
func all(t *testing.T, svc audit.Service) []audit.Event {
	t.Helper()
	var out []audit.Event
	q := audit.Query{PageSize: audit.MaxPageSize}
	for {
		page, err := svc.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
		if page.NextPageToken == "" {
			return out
		}
		q.PageToken = page.NextPageToken
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countEvents(t *testing.T, db *audittest.DB) int {
	var n int
	if err := db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Events emitted while the audit service is down, events a crashed consumer
// took and never acknowledged, a redelivered event and a malformed entry:
// every event is stored once, the stream ends empty, the bad entry is kept
// aside.
func TestStreamStoresEveryEventOnceAcrossCrashes(t *testing.T) {
	sink, db, svc := newSink(t)
	rdb := openRedis(t)
	ctx := context.Background()
	em := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{})
	agent := uuid.NewString()
	emit := func(n int, action string) []auditlog.Event {
		var out []auditlog.Event
		for range n {
			e := auditlog.Event{Action: action, Actor: agent, AgentID: agent, Target: "token:" + uuid.NewString(),
				Outcome: auditlog.OutcomeSuccess, Details: map[string]string{"scope": "agents:read"}}
			e.ID = auditlog.NewID()
			if err := em.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	before := emit(300, auditlog.ActionTokenIssued)
	// A consumer that crashed: it read 100 entries and never acknowledged them.
	if err := rdb.XGroupCreateMkStream(ctx, auditlog.DefaultStream, "audit", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "audit", Consumer: "crashed",
		Streams: []string{auditlog.DefaultStream, ">"}, Count: 100, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditlog.DefaultStream, Values: []any{auditlog.StreamField, "not protobuf \xff"}}).Err(); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = sink.ConsumeStream(runCtx, rdb, ingest.StreamConfig{Consumer: "live", ClaimIdle: 300 * time.Millisecond, ClaimEvery: 100 * time.Millisecond})
	}()
	after := emit(200, auditlog.ActionTokenDenied)
	if err := em.Emit(ctx, before[7]); err != nil { // a redelivery
		t.Fatal(err)
	}
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "500 events", 20*time.Second, func() bool { return countEvents(t, db) >= 500 })
	waitFor(t, "an empty stream", 5*time.Second, func() bool { return rdb.XLen(ctx, auditlog.DefaultStream).Val() == 0 })
	stop()
	wg.Wait()

	stored := all(t, svc)
	if len(stored) != 500 {
		t.Fatalf("%d events stored, want 500", len(stored))
	}
	byID := map[uuid.UUID]audit.Event{}
	for _, e := range stored {
		byID[e.ID] = e
	}
	for _, e := range append(before, after...) {
		got, ok := byID[e.ID]
		if !ok || got.Actor != agent || got.Action != e.Action || got.Outcome != auditlog.OutcomeSuccess {
			t.Fatalf("event %s: stored %v as %+v", e.ID, ok, got)
		}
	}
	dead, err := rdb.XRange(ctx, auditlog.DefaultStream+":dead", "-", "+").Result()
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %v (%v)", dead, err)
	}
	pending, err := rdb.XPending(ctx, auditlog.DefaultStream, "audit").Result()
	if err != nil || pending.Count != 0 {
		t.Fatalf("pending after consumption: %+v (%v)", pending, err)
	}
	if v, err := svc.Verify(ctx, audit.Range{}); err != nil || !v.OK {
		t.Fatalf("verify: %+v (%v)", v, err)
	}
}

// credentialFeed is a small CredentialEventsService serving fixed events,
// the way the credentials service serves its outbox.
type credentialFeed struct {
	credentialsv1.UnimplementedCredentialEventsServiceServer
	events []*credentialsv1.CredentialEvent
}

func (f *credentialFeed) WatchCredentialEvents(req *credentialsv1.WatchCredentialEventsRequest, s credentialsv1.CredentialEventsService_WatchCredentialEventsServer) error {
	for _, e := range f.events {
		if e.Sequence > req.GetAfterSequence() {
			if err := s.Send(&credentialsv1.WatchCredentialEventsResponse{Event: e}); err != nil {
				return err
			}
		}
	}
	<-s.Context().Done()
	return nil
}

func TestCredentialsFeedIsRecordedOnceWithItsActors(t *testing.T) {
	sink, db, svc := newSink(t)
	ctx := context.Background()
	agent, cred := uuid.NewString(), uuid.NewString()
	base := time.Now().Add(-time.Minute)
	types := []string{"created", "rotated", "rotated", "grace_ended", "revoked"}
	server := &credentialFeed{}
	for i, typ := range types {
		server.events = append(server.events, &credentialsv1.CredentialEvent{Sequence: int64(10 + i), Type: typ,
			OccurredAt: timestamppb.New(base.Add(time.Duration(i) * time.Second)), CredentialId: cred, AgentId: agent,
			Actor: agent, RequestId: "req", SourceAddress: "198.51.100.4"})
	}
	server.events[4].Actor = "" // a revocation caused by a decommissioning
	srv := grpc.NewServer()
	credentialsv1.RegisterCredentialEventsServiceServer(srv, server)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := credentialsv1.NewCredentialEventsServiceClient(conn)
	cursor := postgres.FeedCursor{Pool: db.Store.Pool(), Consumer: ingest.CredentialsFeed}

	// Follow twice, the second time from a cursor reset to the start: the
	// replay stores nothing new.
	for round := range 2 {
		if round == 1 {
			if _, err := db.Owner.Exec(ctx, `UPDATE event_cursors SET sequence = 0`); err != nil {
				t.Fatal(err)
			}
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = sink.FollowCredentials(runCtx, client, cursor) }()
		waitFor(t, "the cursor at 14", 10*time.Second, func() bool { s, _ := cursor.Load(ctx); return s == 14 })
		stop()
		<-done
	}
	stored := all(t, svc)
	if len(stored) != len(types) {
		t.Fatalf("%d events stored, want %d", len(stored), len(types))
	}
	want := []string{"credential.revoked", "credential.grace_ended", "credential.rotated", "credential.rotated", "credential.generated"}
	for i, e := range stored {
		wantActor := agent
		if i == 0 {
			wantActor = auditlog.ActorSystem
		}
		if e.Action != want[i] || e.Actor != wantActor || e.AgentID != agent || e.Target != "credential:"+cred ||
			e.Outcome != auditlog.OutcomeSuccess || e.SourceAddress != "198.51.100.4" {
			t.Fatalf("event %d = %+v, want %s by %s", i, e, want[i], wantActor)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
