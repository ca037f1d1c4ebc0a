package postgres_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential/storetest"
	pgstore "github.com/sentryagent/agentidp/services/credentials/internal/store/postgres"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The PostgreSQL store passes the credential stores' conformance suite,
// with its LISTEN connection running as in the service.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		ctx := context.Background()
		pool, err := postgres.Open(ctx, postgres.Config{URL: testkit.NewDatabase(t)}, metrics.NewStore(prometheus.NewRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
			t.Fatal(err)
		}
		s := pgstore.New(pool)
		listenCtx, stop := context.WithCancel(ctx)
		listening := make(chan struct{})
		go func() { defer close(listening); _ = s.Listen(listenCtx) }()
		t.Cleanup(func() { stop(); <-listening }) // before the pool closes
		return s
	})
}
