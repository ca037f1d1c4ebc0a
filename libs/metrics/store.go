package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Store holds the latency histograms of the data stores, observed by the
// pgx tracer in libs/postgres and the go-redis hook in libs/redisclient.
type Store struct {
	DBQuery      *prometheus.HistogramVec // labels: operation
	RedisCommand *prometheus.HistogramVec // labels: command
}

// NewStore registers the data-store metrics on reg.
func NewStore(reg prometheus.Registerer) *Store {
	return &Store{
		DBQuery: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "db_query_duration_seconds",
			Help:    "PostgreSQL query latency, by SQL operation (SELECT, INSERT, ...).",
			Buckets: LatencyBuckets,
		}, []string{"operation"})),
		RedisCommand: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "redis_command_duration_seconds",
			Help:    "Redis command latency, by command name.",
			Buckets: LatencyBuckets,
		}, []string{"command"})),
	}
}
