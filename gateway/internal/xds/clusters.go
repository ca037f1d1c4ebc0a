package xds

import (
	"net/netip"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
)

const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// serviceCluster is the cluster of one catalog service. Its endpoints come
// separately over EDS, so that adding or moving an endpoint pushes one
// small ClusterLoadAssignment and leaves the cluster (and its connection
// pools and health state) alone.
func serviceCluster(svc catalog.Service) *cluster.Cluster {
	name := svc.Name
	c := &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: name},
		ConnectTimeout:       durationpb.New(time.Second),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		// An endpoint removed from the config file stops taking traffic
		// now, not when its health checks eventually fail.
		IgnoreHealthOnHostRemoval: true,
		OutlierDetection: &cluster.OutlierDetection{
			// gRPC statuses count as their HTTP equivalents (UNAVAILABLE is
			// a 503, a gateway failure).
			Consecutive_5Xx:                    wrapperspb.UInt32(5),
			ConsecutiveGatewayFailure:          wrapperspb.UInt32(3),
			EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
			Interval:                           durationpb.New(5 * time.Second),
			BaseEjectionTime:                   durationpb.New(15 * time.Second),
			MaxEjectionPercent:                 wrapperspb.UInt32(50),
		},
		CircuitBreakers: &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{{
			Priority:           core.RoutingPriority_DEFAULT,
			MaxConnections:     wrapperspb.UInt32(1024),
			MaxPendingRequests: wrapperspb.UInt32(1024),
			MaxRequests:        wrapperspb.UInt32(4096),
			MaxRetries:         wrapperspb.UInt32(16),
		}}},
	}
	switch {
	case svc.Protocol == catalog.GRPCTranscoded || svc.Protocol == catalog.ExtAuthz:
		c.TypedExtensionProtocolOptions = http2Options()
		c.HealthChecks = []*core.HealthCheck{grpcHealthCheck()}
	case svc.Protocol == catalog.HTTP && svc.ReadinessPath != "":
		c.HealthChecks = []*core.HealthCheck{httpHealthCheck(svc.ReadinessPath)}
	}
	return c
}

// httpHealthCheck asks every endpoint of an HTTP service GET path (its
// readiness) on the same schedule as grpcHealthCheck; any status but 200
// is a failure.
func httpHealthCheck(path string) *core.HealthCheck {
	hc := grpcHealthCheck()
	hc.HealthChecker = &core.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &core.HealthCheck_HttpHealthCheck{
		Path: path,
	}}
	return hc
}

// grpcHealthCheck asks every endpoint grpc.health.v1 Check for the server
// as a whole (service ""), which AgentIdP services answer SERVING only when
// their own dependencies are up (libs/health).
func grpcHealthCheck() *core.HealthCheck {
	return &core.HealthCheck{
		Timeout:            durationpb.New(time.Second),
		Interval:           durationpb.New(time.Second),
		IntervalJitter:     durationpb.New(100 * time.Millisecond),
		UnhealthyThreshold: wrapperspb.UInt32(2),
		HealthyThreshold:   wrapperspb.UInt32(1),
		// Envoy slows checks to no_traffic_interval (60s by default) on an
		// idle cluster; a quiet gateway must still notice a dead service.
		NoTrafficInterval: durationpb.New(2 * time.Second),
		HealthChecker: &core.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &core.HealthCheck_GrpcHealthCheck{
			ServiceName: "",
		}},
	}
}

func http2Options() map[string]*anypb.Any {
	return map[string]*anypb.Any{httpProtocolOptionsKey: mustAny(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &core.Http2ProtocolOptions{
						// Notice a silently dead peer; AgentIdP gRPC servers
						// accept pings every 5s or slower.
						ConnectionKeepalive: &core.KeepaliveSettings{
							Interval: durationpb.New(30 * time.Second),
							Timeout:  durationpb.New(5 * time.Second),
						},
					},
				},
			},
		},
	})}
}

// gatewayHTTPCluster is the control plane's own HTTP server, which serves
// /readyz. Its address is fixed for the life of the process, so it is a
// static cluster.
func gatewayHTTPCluster(addr netip.AddrPort) *cluster.Cluster {
	return &cluster.Cluster{
		Name:                 GatewayHTTPCluster,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment:       loadAssignment(GatewayHTTPCluster, []netip.AddrPort{addr}),
	}
}

// loadAssignment is the EDS resource of a cluster: its endpoints, equally
// weighted, in one locality.
func loadAssignment(clusterName string, addrs []netip.AddrPort) *endpoint.ClusterLoadAssignment {
	lbs := make([]*endpoint.LbEndpoint, 0, len(addrs))
	for _, a := range addrs {
		lbs = append(lbs, &endpoint.LbEndpoint{HostIdentifier: &endpoint.LbEndpoint_Endpoint{
			Endpoint: &endpoint.Endpoint{Address: socketAddress(a)},
		}})
	}
	return &endpoint.ClusterLoadAssignment{
		ClusterName: clusterName,
		Endpoints:   []*endpoint.LocalityLbEndpoints{{LbEndpoints: lbs}},
	}
}
