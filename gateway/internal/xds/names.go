// Package xds turns the gateway's topology into Envoy configuration
// (listeners, routes, clusters, endpoints) and serves it over ADS from a
// go-control-plane snapshot cache.
package xds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Resource names shared between the resources that reference each other.
const (
	ListenerName    = "agentidp_http"
	RouteConfigName = "agentidp_routes"
	// GatewayHTTPCluster is the control plane's own HTTP server (/readyz).
	GatewayHTTPCluster = "gateway_http"
	virtualHostName    = "agentidp"
	statPrefix         = "agentidp"
)

// adsSource says "this resource arrives over the same ADS stream".
func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// mustAny packs a message into an Any, deterministically so that equal
// configurations hash (and version) equally. It is only called on messages
// whose content is defined by this package's code, never by the config
// file, so a failure is a programming error that every test would catch.
func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("xds: pack %T: %v", m, err))
	}
	return a
}
