package grpc_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
)

// BenchmarkRecord measures ingestion through AuditIngestService.Record:
// batches of 1000 events from two concurrent clients, each batch one COPY
// under the append lock. Reports events/s.
//
//	go test -run '^$' -bench Record -benchtime 100x ./internal/transport/grpc
func BenchmarkRecord(b *testing.B) {
	c := newClients(b)
	agents := make([]string, 100)
	for i := range agents {
		agents[i] = uuid.NewString()
	}
	const batch = 1000
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			base := int(n.Add(batch))
			events := make([]*auditv1.AuditEvent, batch)
			now := time.Now()
			for i := range events {
				events[i] = event(base+i, agents[(base+i)%len(agents)], now)
			}
			if _, err := c.ingest.Record(context.Background(), &auditv1.RecordRequest{Events: events}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}

// The 1,000,000-event data set, built once per test binary (COPY through
// the store, 10,000 events per append) over 1,000 agents and 30 days.
var (
	bigOnce   sync.Once
	bigClient clients
	bigAgents []string
)

const bigEvents = 1_000_000

func bigDataSet(b *testing.B) {
	bigOnce.Do(func() {
		db := audittest.Open(b) // kept until the test binary ends
		bigClient, _ = clientsFor(b, db)
		bigAgents = make([]string, 1000)
		for i := range bigAgents {
			bigAgents[i] = uuid.NewString()
		}
		start := time.Now()
		end := time.Now()
		rng := rand.New(rand.NewPCG(1, 2))
		actions := []string{auditlog.ActionTokenIssued, auditlog.ActionTokenIssued, auditlog.ActionTokenDenied, auditlog.ActionAgentUpdated}
		for done := 0; done < bigEvents; {
			events := make([]auditlog.Event, 10_000)
			for i := range events {
				at := end.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
				e := audittest.Event(done+i, bigAgents[rng.IntN(len(bigAgents))], at)
				e.Action = actions[rng.IntN(len(actions))]
				events[i] = e
			}
			if _, err := db.Store.Append(context.Background(), events, time.Now()); err != nil {
				b.Fatal(err)
			}
			done += len(events)
		}
		if _, err := db.Owner.Exec(context.Background(), `ANALYZE audit_events`); err != nil {
			b.Fatal(err)
		}
		b.Logf("stored %d events in %s (%.0f events/s)", bigEvents, time.Since(start).Round(time.Second),
			bigEvents/time.Since(start).Seconds())
	})
}

// BenchmarkListByAgent measures GET /v1/audit/events?agentId=... (first
// page of 50, newest first, over gRPC) over 1,000,000 stored events and
// reports p50 and p99 latency.
//
//	go test -run '^$' -bench ListByAgent -benchtime 2000x -timeout 30m ./internal/transport/grpc
func BenchmarkListByAgent(b *testing.B) {
	bigDataSet(b)
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		req := &auditv1.ListAuditEventsRequest{AgentId: bigAgents[rng.IntN(len(bigAgents))]}
		if rng.IntN(4) == 0 { // some queries ask for a later page
			page, err := bigClient.audit.ListAuditEvents(context.Background(), req)
			if err != nil {
				b.Fatal(err)
			}
			req.PageToken = page.GetNextPageToken()
		}
		t := time.Now()
		page, err := bigClient.audit.ListAuditEvents(context.Background(), req)
		lat = append(lat, time.Since(t))
		if err != nil || len(page.GetEvents()) == 0 {
			b.Fatalf("%d events, %v", len(page.GetEvents()), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
