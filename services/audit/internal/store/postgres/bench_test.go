package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
)

// BenchmarkAppend measures the store alone: one COPY of 1000 events per op.
//
//	go test -run '^$' -bench Append -benchtime 50x ./internal/store/postgres
func BenchmarkAppend(b *testing.B) {
	db := audittest.New(b)
	if sql := os.Getenv("BENCH_SQL"); sql != "" {
		if _, err := db.Owner.Exec(context.Background(), sql); err != nil {
			b.Fatal(err)
		}
	}
	agents := make([]string, 100)
	for i := range agents {
		agents[i] = uuid.NewString()
	}
	b.ResetTimer()
	start := time.Now()
	for n := range b.N {
		events := make([]auditlog.Event, 1000)
		now := time.Now()
		for i := range events {
			events[i] = audittest.Event(n*1000+i, agents[i%len(agents)], now)
		}
		if _, err := db.Store.Append(context.Background(), events, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "events/s")
}
