package postgres_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/agent/storetest"
	pgstore "github.com/sentryagent/agentidp/services/registry/internal/store/postgres"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The PostgreSQL store passes the agent.Store conformance suite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agent.Store {
		ctx := context.Background()
		pool, err := postgres.Open(ctx, postgres.Config{URL: testkit.NewDatabase(t)}, metrics.NewStore(prometheus.NewRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
			t.Fatal(err)
		}
		return pgstore.New(pool)
	})
}
