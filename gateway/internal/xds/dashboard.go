package xds

import (
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sentryagent/agentidp/gateway/internal/dashboard"
)

// dashboardRoute is the last route of the table: every path no API route
// claims goes to the control plane's HTTP server, which serves the web
// dashboard (gateway/internal/dashboard) from the same origin as the API.
// The prefix is rewritten to dashboard.PathPrefix so that a proxied request
// reaches only the dashboard handler, never the control plane's /metrics.
// That handler answers paths it does not serve (and every path when no
// dashboard is configured) with the same ROUTE_NOT_FOUND body Envoy gives
// for a path no route matches, so the API's 404 contract is unchanged.
func dashboardRoute() *route.Route {
	return &route.Route{
		Name:  "dashboard",
		Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
		Action: &route.Route_Route{Route: &route.RouteAction{
			ClusterSpecifier: &route.RouteAction_Cluster{Cluster: GatewayHTTPCluster},
			PrefixRewrite:    dashboard.PathPrefix,
			Timeout:          durationpb.New(10 * time.Second),
		}},
		TypedPerFilterConfig: notTranscoded(),
	}
}
