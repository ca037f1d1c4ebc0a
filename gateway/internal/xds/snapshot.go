package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
	"github.com/sentryagent/agentidp/gateway/internal/topology"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// BuilderConfig holds what does not change while the process runs.
type BuilderConfig struct {
	// GatewayHTTP is where Envoy reaches the control plane's /readyz.
	GatewayHTTP netip.AddrPort
	// UpstreamTimeout bounds a whole API call to a service, retries
	// included; default 5s.
	UpstreamTimeout time.Duration
	// AuthzTimeout bounds one ext_authz check; default 1s. Past it the
	// request is refused (503), never let through.
	AuthzTimeout time.Duration
	// Mesh, when set, are the gateway's mesh certificate files: every
	// service cluster then speaks mutual TLS (upstreamTLS). nil: plaintext
	// upstreams (development).
	Mesh *mtls.Files
}

// Builder turns a resolved topology into an xDS snapshot.
type Builder struct {
	cfg          BuilderConfig
	descriptor   []byte
	grpcServices []string
}

// NewBuilder returns a builder; it fails if a catalog service cannot be
// transcoded by Envoy.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = 5 * time.Second
	}
	if cfg.AuthzTimeout <= 0 {
		cfg.AuthzTimeout = time.Second
	}
	services := catalog.TranscodedGRPCServices()
	desc, err := Descriptor(services)
	if err != nil {
		return nil, err
	}
	return &Builder{cfg: cfg, descriptor: desc, grpcServices: services}, nil
}

// Build returns a consistent snapshot for res. Each resource type carries
// its own version, a hash of its content, so Envoy is sent only the types
// that changed: a new endpoint is one EDS push, nothing else.
func (b *Builder) Build(res *topology.Resolved) (*cache.Snapshot, error) {
	names := res.Config.ServiceNames()
	configured := make(map[string]bool, len(names))
	clusters := []types.Resource{gatewayHTTPCluster(b.cfg.GatewayHTTP)}
	var endpoints []types.Resource
	for _, name := range names {
		svc, ok := catalog.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("service %q is not in the catalog", name)
		}
		configured[name] = true
		clusters = append(clusters, b.serviceCluster(svc))
		endpoints = append(endpoints, loadAssignment(name, res.Endpoints[name]))
	}
	if !configured[catalog.Authz] {
		// The ext_authz filter names the cluster; without endpoints every
		// protected route is a direct 503 (routeConfig) and anything else
		// fails closed.
		svc, _ := catalog.Lookup(catalog.Authz)
		clusters = append(clusters, b.serviceCluster(svc))
		endpoints = append(endpoints, loadAssignment(catalog.Authz, nil))
	}
	byType := map[types.ResponseType][]types.Resource{
		types.Listener: {publicListener(res.Listener, b.descriptor, b.grpcServices, b.cfg.AuthzTimeout)},
		types.Route:    {routeConfig(configured, b.cfg.UpstreamTimeout, map[catalog.Limit]topology.Limit{catalog.LimitOAuth: res.Config.OAuthLimit()})},
		types.Cluster:  clusters,
		types.Endpoint: endpoints,
	}
	if b.cfg.Mesh != nil {
		byType[types.Secret] = meshSecrets(*b.cfg.Mesh)
	}

	snap := &cache.Snapshot{}
	for typ, items := range byType {
		version, err := contentVersion(items)
		if err != nil {
			return nil, err
		}
		snap.Resources[typ] = cache.NewResources(version, items)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return snap, nil
}

// serviceCluster is a catalog service's cluster, over mutual TLS when the
// gateway has a mesh identity.
func (b *Builder) serviceCluster(svc catalog.Service) *cluster.Cluster {
	c := serviceCluster(svc)
	if b.cfg.Mesh != nil {
		c.TransportSocket = upstreamTLS(svc)
	}
	return c
}

// contentVersion validates resources (the protoc-gen-validate rules Envoy
// itself enforces, so a mistake fails here and not in Envoy's NACK) and
// hashes them.
func contentVersion(items []types.Resource) (string, error) {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, item := range items {
		if v, ok := item.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				return "", fmt.Errorf("%T %s: %w", item, cache.GetResourceName(item), err)
			}
		}
		b, err := opts.Marshal(item)
		if err != nil {
			return "", fmt.Errorf("%T %s: %w", item, cache.GetResourceName(item), err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// SnapshotVersion summarises the per-type versions of a snapshot, for logs
// and for telling whether anything changed.
func SnapshotVersion(snap *cache.Snapshot) string {
	h := sha256.New()
	for i := range snap.Resources {
		h.Write([]byte(snap.Resources[i].Version))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
