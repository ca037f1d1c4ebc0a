package redisclient_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestOpenObservesCommandLatency(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	c, err := redisclient.Open(ctx, testkit.NewRedisURL(t), metrics.NewStore(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "agentidp_redis_command_duration_seconds"); n < 2 {
		t.Fatalf("%d series, want ping and set", n)
	}
}

func TestOpenKeepsPasswordsOutOfErrors(t *testing.T) {
	for _, url := range []string{"redis://:s3cret@127.0.0.1:1/0", "redis://:s3cret@[bad"} {
		_, err := redisclient.Open(context.Background(), url, nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%s: err = %v", url, err)
		}
	}
}
