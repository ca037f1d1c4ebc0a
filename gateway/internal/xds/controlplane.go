package xds

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/gateway/internal/topology"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// Config configures a ControlPlane. All fields are required.
type Config struct {
	// NodeID is the Envoy node id (bootstrap node.id) the snapshots are for.
	NodeID  string
	Builder *Builder
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// ControlPlane serves ADS to Envoy from a snapshot cache and installs a new
// snapshot for every configuration it is given.
type ControlPlane struct {
	nodeID  string
	builder *Builder
	logger  *slog.Logger
	cache   cache.SnapshotCache
	server  server.Server

	mu      sync.Mutex
	version string

	sentMu sync.Mutex
	sent   map[streamType]sentResponse // last response per stream and type

	updates  prometheus.Counter
	failures prometheus.Counter
	applied  prometheus.Gauge
	streams  prometheus.Gauge
	nacks    prometheus.Counter
}

// New returns a control plane; ctx bounds the xDS server's background work.
func New(ctx context.Context, cfg Config) *ControlPlane {
	ns, sub := metrics.Namespace, "gateway"
	cp := &ControlPlane{
		nodeID:  cfg.NodeID,
		builder: cfg.Builder,
		logger:  cfg.Logger,
		sent:    map[streamType]sentResponse{},
		updates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshot_updates_total", Help: "xDS snapshots installed (each a new configuration for Envoy)."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshot_failures_total", Help: "Configurations that could not be turned into a snapshot; the previous one stayed."}),
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshot_timestamp_seconds", Help: "Unix time the current snapshot was installed."}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "xds_streams", Help: "Open xDS streams (connected Envoys)."}),
		nacks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "xds_nacks_total", Help: "Configurations Envoy rejected."}),
	}
	cfg.Metrics.MustRegister(cp.updates, cp.failures, cp.applied, cp.streams, cp.nacks)
	cp.cache = cache.NewSnapshotCache(true, cache.IDHash{}, slogAdapter{cfg.Logger})
	cp.server = server.NewServer(ctx, cp.cache, server.CallbackFuncs{
		StreamOpenFunc: func(context.Context, int64, string) error {
			cp.streams.Inc()
			return nil
		},
		StreamClosedFunc: func(id int64, _ *core.Node) {
			cp.streams.Dec()
			cp.forget(id)
		},
		StreamRequestFunc: func(id int64, req *discovery.DiscoveryRequest) error {
			cp.observe(id, req)
			return nil
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
			cp.sentMu.Lock()
			cp.sent[streamType{id, resp.GetTypeUrl()}] = sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
			cp.sentMu.Unlock()
		},
	})
	return cp
}

// Register adds the Aggregated Discovery Service to s.
func (cp *ControlPlane) Register(s *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(s, cp.server)
}

// Apply builds a snapshot for res and installs it. On error the previous
// snapshot stays in force.
func (cp *ControlPlane) Apply(ctx context.Context, res *topology.Resolved) error {
	snap, err := cp.builder.Build(res)
	if err != nil {
		cp.failures.Inc()
		return err
	}
	version := SnapshotVersion(snap)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if version == cp.version {
		return nil // nothing changed (e.g. a comment edit or a re-resolve)
	}
	if err := cp.cache.SetSnapshot(ctx, cp.nodeID, snap); err != nil {
		cp.failures.Inc()
		return fmt.Errorf("install snapshot: %w", err)
	}
	cp.version = version
	cp.updates.Inc()
	cp.applied.Set(float64(time.Now().Unix()))
	cp.logger.Info("envoy configuration updated", "version", version, "listener", res.Listener.String(),
		"services", len(res.Endpoints), "endpoints", endpointCount(res))
	return nil
}

// Version is the version of the installed snapshot ("" before the first).
func (cp *ControlPlane) Version() string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.version
}

type streamType struct {
	stream  int64
	typeURL string
}

type sentResponse struct{ nonce, version string }

// observe looks at what Envoy says about the configuration it was sent.
// With set_node_on_first_message_only the node is only on a stream's first
// request.
func (cp *ControlPlane) observe(stream int64, req *discovery.DiscoveryRequest) {
	if id := req.GetNode().GetId(); id != "" && id != cp.nodeID {
		cp.logger.Warn("xDS client has an unknown node id and will receive no configuration",
			"node", id, "expected", cp.nodeID)
	}
	st := req.GetErrorDetail()
	if st == nil {
		return
	}
	cp.nacks.Inc()
	cp.sentMu.Lock()
	last, ok := cp.sent[streamType{stream, req.GetTypeUrl()}]
	cp.sentMu.Unlock()
	cp.logger.Error("envoy rejected configuration; it keeps its previous one", "type", req.GetTypeUrl(),
		"rejected_version", last.version, "error", st.GetMessage())
	// A NACK carries the last version Envoy accepted, which differs from
	// the snapshot's, so the snapshot cache would send the rejected
	// configuration straight back, and Envoy would reject it again, in a
	// tight loop. Treating the rejected version as delivered makes the
	// cache wait for the next snapshot instead.
	if ok && req.GetResponseNonce() == last.nonce {
		req.VersionInfo = last.version
	}
}

func (cp *ControlPlane) forget(stream int64) {
	cp.sentMu.Lock()
	defer cp.sentMu.Unlock()
	for k := range cp.sent {
		if k.stream == stream {
			delete(cp.sent, k)
		}
	}
}

func endpointCount(res *topology.Resolved) int {
	n := 0
	for _, eps := range res.Endpoints {
		n += len(eps)
	}
	return n
}

// slogAdapter routes go-control-plane's logs to slog; its chatty
// per-request logs are debug.
type slogAdapter struct{ l *slog.Logger }

var _ log.Logger = slogAdapter{}

func (a slogAdapter) Debugf(format string, args ...any) {
	a.l.Debug(fmt.Sprintf(format, args...), "component", "xds")
}
func (a slogAdapter) Infof(format string, args ...any) {
	a.l.Debug(fmt.Sprintf(format, args...), "component", "xds")
}
func (a slogAdapter) Warnf(format string, args ...any) {
	a.l.Warn(fmt.Sprintf(format, args...), "component", "xds")
}
func (a slogAdapter) Errorf(format string, args ...any) {
	a.l.Error(fmt.Sprintf(format, args...), "component", "xds")
}
