package ingest_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	"github.com/sentryagent/agentidp/services/audit/internal/ingest"
)

// BenchmarkStreamIngest measures the Redis stream path: b.N token events
// wait in the stream (emitted with libs/auditlog while the audit service
// was down); the timer runs while the consumer stores them all (XREADGROUP
// 1000 at a time, one COPY each, XACK + XDEL). Reports events/s.
//
//	go test -run '^$' -bench StreamIngest -benchtime 100000x ./internal/ingest
func BenchmarkStreamIngest(b *testing.B) {
	db := audittest.New(b)
	svc := audit.NewService(audit.Config{Store: db.Store})
	sink := ingest.NewSink(svc, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	rdb := openRedis(b)
	ctx := context.Background()
	em := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{MaxLen: -1, QueueSize: 100_000})
	agents := make([]string, 100)
	for i := range agents {
		agents[i] = uuid.NewString()
	}
	var wg sync.WaitGroup
	for w := range 8 { // concurrent emitters share pipelines, like a busy token service
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += 8 {
				a := agents[i%len(agents)]
				if err := em.Emit(ctx, auditlog.Event{Actor: a, AgentID: a, Action: auditlog.ActionTokenIssued,
					Target: "token:" + uuid.NewString(), Outcome: auditlog.OutcomeSuccess,
					Details: map[string]string{"scope": "agents:read"}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := em.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = sink.ConsumeStream(runCtx, rdb, ingest.StreamConfig{Consumer: "bench"}) }()
	for {
		head, err := db.Store.Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if head.Sequence >= int64(b.N) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}
