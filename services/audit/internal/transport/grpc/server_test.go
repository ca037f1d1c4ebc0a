package grpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	"github.com/sentryagent/agentidp/services/audit/internal/endpoints"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type clients struct {
	audit  auditv1.AuditServiceClient
	ingest auditv1.AuditIngestServiceClient
	db     *audittest.DB
}

// newClients serves the whole audit stack (real PostgreSQL, the shared gRPC
// server helpers) over an in-memory connection.
func newClients(t testing.TB) clients {
	t.Helper()
	c, stop := clientsFor(t, audittest.New(t))
	t.Cleanup(stop)
	return c
}

// clientsFor serves db; stop ends the server and the connection.
func clientsFor(t testing.TB, db *audittest.DB) (clients, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	svc := audit.NewService(audit.Config{Store: db.Store, Metrics: audit.NewMetrics(reg), CheckpointStore: db.Store})
	srv, _ := grpcserver.New(grpcserver.Config{Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewGRPC(reg), MaxRecvMsgSize: 8 << 20})
	set := endpoints.New(svc)
	auditv1.RegisterAuditServiceServer(srv, grpctransport.NewServer(set))
	auditv1.RegisterAuditIngestServiceServer(srv, grpctransport.NewIngestServer(set))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	return clients{audit: auditv1.NewAuditServiceClient(conn), ingest: auditv1.NewAuditIngestServiceClient(conn), db: db},
		func() { conn.Close(); srv.Stop() }
}

// wantError asserts err's gRPC code, ErrorInfo reason and (if not empty) field.
func wantError(t *testing.T, err error, code codes.Code, reason, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", err)
	}
	if info.GetReason() != reason {
		t.Fatalf("reason = %s (%v), want %s", info.GetReason(), err, reason)
	}
	if field != "" && info.GetMetadata()["field"] != field {
		t.Fatalf("field = %q (%v), want %q", info.GetMetadata()["field"], err, field)
	}
}

func event(i int, agent string, at time.Time) *auditv1.AuditEvent {
	return auditlog.ToProto(audittest.Event(i, agent, at))
}

func record(t testing.TB, c clients, events ...*auditv1.AuditEvent) *auditv1.RecordResponse {
	t.Helper()
	resp, err := c.ingest.Record(context.Background(), &auditv1.RecordRequest{Events: events})
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	return resp
}

func TestRecordIsIdempotentAndGetReturnsTheEvent(t *testing.T) {
	c := newClients(t)
	ctx := context.Background()
	agent := uuid.NewString()
	at := time.Now()
	batch := []*auditv1.AuditEvent{event(1, agent, at), event(2, agent, at), event(2, agent, at)}
	if r := record(t, c, batch...); r.GetRecorded() != 2 || r.GetDuplicates() != 1 {
		t.Fatalf("first record: %v", r)
	}
	if r := record(t, c, batch[0], event(3, agent, at)); r.GetRecorded() != 1 || r.GetDuplicates() != 1 {
		t.Fatalf("redelivery: %v", r)
	}
	got, err := c.audit.GetAuditEvent(ctx, &auditv1.GetAuditEventRequest{EventId: batch[1].GetEventId()})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(batch[1]).(*auditv1.AuditEvent)
	want.Sequence, want.PrevHash, want.Hash, want.RecordedAt = got.Sequence, got.PrevHash, got.Hash, got.RecordedAt
	if !proto.Equal(got, want) || got.GetSequence() != 2 || len(got.GetHash()) != 64 {
		t.Fatalf("get = %v\nwant %v", got, want)
	}
	_, err = c.audit.GetAuditEvent(ctx, &auditv1.GetAuditEventRequest{EventId: auditlog.NewID().String()})
	wantError(t, err, codes.NotFound, "AUDIT_EVENT_NOT_FOUND", "")
	_, err = c.audit.GetAuditEvent(ctx, &auditv1.GetAuditEventRequest{EventId: "nope"})
	wantError(t, err, codes.InvalidArgument, "FIELD_INVALID", "eventId")
	v, err := c.audit.VerifyAuditChain(ctx, &auditv1.VerifyAuditChainRequest{})
	if err != nil || !v.GetOk() || v.GetEventsChecked() != 3 {
		t.Fatalf("verify = %v (%v)", v, err)
	}
}

func TestRecordRejectsBadEvents(t *testing.T) {
	c := newClients(t)
	tests := []struct {
		name   string
		mutate func(e *auditv1.AuditEvent)
		reason string
		field  string
	}{
		{"no id", func(e *auditv1.AuditEvent) { e.EventId = "" }, "FIELD_REQUIRED", "events[1].eventId"},
		{"v4 id", func(e *auditv1.AuditEvent) { e.EventId = uuid.NewString() }, "FIELD_INVALID", "events[1].eventId"},
		{"garbage id", func(e *auditv1.AuditEvent) { e.EventId = "x" }, "FIELD_INVALID", "events[1].eventId"},
		{"no time", func(e *auditv1.AuditEvent) { e.OccurredAt = nil }, "FIELD_REQUIRED", "events[1].occurredAt"},
		{"no actor", func(e *auditv1.AuditEvent) { e.Actor = "" }, "FIELD_REQUIRED", "events[1].actor"},
		{"bad action", func(e *auditv1.AuditEvent) { e.Action = "Token Issued" }, "FIELD_INVALID", "events[1].action"},
		{"reserved action", func(e *auditv1.AuditEvent) { e.Action = "audit.retention" }, "FIELD_INVALID", "events[1].action"},
		{"bad outcome", func(e *auditv1.AuditEvent) { e.Outcome = "maybe" }, "FIELD_INVALID", "events[1].outcome"},
		{"bad agent", func(e *auditv1.AuditEvent) { e.AgentId = "agent-7" }, "FIELD_INVALID", "events[1].agentId"},
		{"long target", func(e *auditv1.AuditEvent) { e.Target = string(make([]byte, 300)) }, "FIELD_TOO_LONG", "events[1].target"},
		{"control character", func(e *auditv1.AuditEvent) { e.Actor = "a\nb" }, "FIELD_INVALID", "events[1].actor"},
		{"big detail", func(e *auditv1.AuditEvent) { e.Details = map[string]string{"k": string(make([]byte, 300))} }, "DETAILS_TOO_LARGE", "events[1].details.k"},
		{"many details", func(e *auditv1.AuditEvent) {
			e.Details = map[string]string{}
			for i := range 33 {
				e.Details[fmt.Sprint("k", i)] = "v"
			}
		}, "DETAILS_TOO_LARGE", "events[1].details"},
		{"secret key", func(e *auditv1.AuditEvent) { e.Details = map[string]string{"client_secret": "hunter2"} }, "FIELD_INVALID", "events[1].details.client_secret"},
		{"client secret value", func(e *auditv1.AuditEvent) {
			e.Details = map[string]string{"note": "agentidp_sk_0123456789012345678901_abc"}
		}, "FIELD_INVALID", "events[1].details.note"},
		{"jwt value", func(e *auditv1.AuditEvent) {
			e.Details = map[string]string{"x": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.sig"}
		}, "FIELD_INVALID", "events[1].details.x"},
		{"server fields", func(e *auditv1.AuditEvent) { e.Sequence = 9 }, "FIELD_INVALID", "events[1]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := event(100+i, "", time.Now())
			tt.mutate(bad)
			_, err := c.ingest.Record(context.Background(), &auditv1.RecordRequest{Events: []*auditv1.AuditEvent{event(i, "", time.Now()), bad}})
			wantError(t, err, codes.InvalidArgument, tt.reason, tt.field)
		})
	}
	_, err := c.ingest.Record(context.Background(), &auditv1.RecordRequest{})
	wantError(t, err, codes.InvalidArgument, "FIELD_REQUIRED", "events")
	many := make([]*auditv1.AuditEvent, audit.MaxBatch+1)
	for i := range many {
		many[i] = event(i, "", time.Now())
	}
	_, err = c.ingest.Record(context.Background(), &auditv1.RecordRequest{Events: many})
	wantError(t, err, codes.InvalidArgument, "TOO_MANY_VALUES", "events")
	// All or nothing: nothing was stored.
	page, err := c.audit.ListAuditEvents(context.Background(), &auditv1.ListAuditEventsRequest{})
	if err != nil || len(page.GetEvents()) != 0 {
		t.Fatalf("%d events stored after rejected batches (%v)", len(page.GetEvents()), err)
	}
}

// A data set with every filter dimension varying.
func populate(t *testing.T, c clients) ([]*auditv1.AuditEvent, []string, time.Time) {
	t.Helper()
	agents := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	actions := []string{auditlog.ActionTokenIssued, auditlog.ActionTokenDenied, auditlog.ActionAgentUpdated}
	outcomes := []string{auditlog.OutcomeSuccess, auditlog.OutcomeSuccess, auditlog.OutcomeDenied, auditlog.OutcomeFailure}
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var all []*auditv1.AuditEvent
	for i := range 150 {
		at := base.Add(time.Duration(i%50) * time.Minute) // many events share a time
		e := event(i, agents[i%3], at)
		e.Action, e.Outcome = actions[i%len(actions)], outcomes[i%len(outcomes)]
		if i%5 == 0 {
			e.Actor, e.AgentId = agents[(i+1)%3], ""
		}
		all = append(all, e)
	}
	// Delivered out of order, in several batches, like late events.
	slices.Reverse(all[50:100])
	for i := 0; i < len(all); i += 40 {
		record(t, c, all[i:min(i+40, len(all))]...)
	}
	return all, agents, base
}

func TestListFiltersAndPagesEachEventExactlyOnce(t *testing.T) {
	c := newClients(t)
	all, agents, base := populate(t, c)
	ts := timestamppb.New
	tests := []struct {
		name  string
		req   *auditv1.ListAuditEventsRequest
		match func(e *auditv1.AuditEvent) bool
	}{
		{"everything", &auditv1.ListAuditEventsRequest{}, func(*auditv1.AuditEvent) bool { return true }},
		{"agent", &auditv1.ListAuditEventsRequest{AgentId: agents[1]}, func(e *auditv1.AuditEvent) bool { return e.AgentId == agents[1] }},
		{"action", &auditv1.ListAuditEventsRequest{Action: auditlog.ActionTokenDenied}, func(e *auditv1.AuditEvent) bool { return e.Action == auditlog.ActionTokenDenied }},
		{"outcome", &auditv1.ListAuditEventsRequest{Outcome: "denied"}, func(e *auditv1.AuditEvent) bool { return e.Outcome == "denied" }},
		{"actor", &auditv1.ListAuditEventsRequest{Actor: agents[2]}, func(e *auditv1.AuditEvent) bool { return e.Actor == agents[2] }},
		{"time range", &auditv1.ListAuditEventsRequest{StartTime: ts(base.Add(10 * time.Minute)), EndTime: ts(base.Add(20 * time.Minute))},
			func(e *auditv1.AuditEvent) bool {
				at := e.OccurredAt.AsTime()
				return !at.Before(base.Add(10*time.Minute)) && at.Before(base.Add(20*time.Minute))
			}},
		{"agent, outcome and start", &auditv1.ListAuditEventsRequest{AgentId: agents[0], Outcome: "success", StartTime: ts(base.Add(30 * time.Minute))},
			func(e *auditv1.AuditEvent) bool {
				return e.AgentId == agents[0] && e.Outcome == "success" && !e.OccurredAt.AsTime().Before(base.Add(30*time.Minute))
			}},
		{"nothing", &auditv1.ListAuditEventsRequest{Action: "policy.reloaded"}, func(*auditv1.AuditEvent) bool { return false }},
	}
	for _, tt := range tests {
		var want []string
		wantEvents := slices.Clone(all)
		// Newest first: by occurredAt, then by sequence (all is in recording order).
		seqOf := map[string]int{}
		for i, e := range all {
			seqOf[e.EventId] = i
		}
		slices.SortFunc(wantEvents, func(a, b *auditv1.AuditEvent) int {
			if c := b.OccurredAt.AsTime().Compare(a.OccurredAt.AsTime()); c != 0 {
				return c
			}
			return seqOf[b.EventId] - seqOf[a.EventId]
		})
		for _, e := range wantEvents {
			if tt.match(e) {
				want = append(want, e.EventId)
			}
		}
		for _, size := range []int32{1, 7, 1000} {
			t.Run(fmt.Sprintf("%s/pageSize=%d", tt.name, size), func(t *testing.T) {
				if size == 1 && len(want) > 40 {
					t.Skip("covered by the larger page sizes")
				}
				var got []string
				req := proto.Clone(tt.req).(*auditv1.ListAuditEventsRequest)
				req.PageSize = &size
				for pages := 0; ; pages++ {
					page, err := c.audit.ListAuditEvents(context.Background(), req)
					if err != nil {
						t.Fatal(err)
					}
					if len(page.GetEvents()) > int(size) {
						t.Fatalf("page of %d events for pageSize %d", len(page.GetEvents()), size)
					}
					for _, e := range page.GetEvents() {
						got = append(got, e.GetEventId())
					}
					if page.GetNextPageToken() == "" {
						break
					}
					if pages > 200 {
						t.Fatal("endless paging")
					}
					req.PageToken = page.GetNextPageToken()
				}
				if !slices.Equal(got, want) {
					t.Fatalf("got %d events, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
				}
			})
		}
	}
}

func TestListRejectsBadFilters(t *testing.T) {
	c := newClients(t)
	for i := range 3 {
		record(t, c, event(i, "", time.Now()))
	}
	size := int32(1)
	first, err := c.audit.ListAuditEvents(context.Background(), &auditv1.ListAuditEventsRequest{PageSize: &size})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v (%v)", first, err)
	}
	zero, big := int32(0), int32(1001)
	now := time.Now()
	tests := []struct {
		name   string
		req    *auditv1.ListAuditEventsRequest
		reason string
		field  string
	}{
		{"inverted time range", &auditv1.ListAuditEventsRequest{StartTime: timestamppb.New(now), EndTime: timestamppb.New(now.Add(-time.Hour))}, "INVALID_TIME_RANGE", "startTime"},
		{"empty time range", &auditv1.ListAuditEventsRequest{StartTime: timestamppb.New(now), EndTime: timestamppb.New(now)}, "INVALID_TIME_RANGE", "startTime"},
		{"invalid timestamp", &auditv1.ListAuditEventsRequest{EndTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}}, "FIELD_INVALID", "endTime"},
		{"unknown outcome", &auditv1.ListAuditEventsRequest{Outcome: "maybe"}, "FIELD_INVALID", "outcome"},
		{"malformed agent id", &auditv1.ListAuditEventsRequest{AgentId: "123"}, "FIELD_INVALID", "agentId"},
		{"malformed action", &auditv1.ListAuditEventsRequest{Action: "DROP TABLE"}, "FIELD_INVALID", "action"},
		{"long actor", &auditv1.ListAuditEventsRequest{Actor: string(make([]byte, 200))}, "FIELD_TOO_LONG", "actor"},
		{"garbage page token", &auditv1.ListAuditEventsRequest{PageToken: "garbage!"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"base64 page token", &auditv1.ListAuditEventsRequest{PageToken: "eyJ4IjoxfQ"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"token of other filters", &auditv1.ListAuditEventsRequest{PageToken: first.GetNextPageToken(), Outcome: "denied"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"page size 0", &auditv1.ListAuditEventsRequest{PageSize: &zero}, "INVALID_PAGE_SIZE", "pageSize"},
		{"page size too big", &auditv1.ListAuditEventsRequest{PageSize: &big}, "INVALID_PAGE_SIZE", "pageSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.audit.ListAuditEvents(context.Background(), tt.req)
			wantError(t, err, codes.InvalidArgument, tt.reason, tt.field)
		})
	}
	from, to, neg := int64(5), int64(2), int64(0)
	for _, tt := range []struct {
		req   *auditv1.VerifyAuditChainRequest
		field string
	}{
		{&auditv1.VerifyAuditChainRequest{FromSequence: &from, ToSequence: &to}, "fromSequence"},
		{&auditv1.VerifyAuditChainRequest{FromSequence: &neg}, "fromSequence"},
		{&auditv1.VerifyAuditChainRequest{ToSequence: &neg}, "toSequence"},
	} {
		_, err := c.audit.VerifyAuditChain(context.Background(), tt.req)
		wantError(t, err, codes.InvalidArgument, "INVALID_SEQUENCE_RANGE", tt.field)
	}
}
