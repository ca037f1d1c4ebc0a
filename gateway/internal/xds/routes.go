package xds

import (
	"fmt"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	previoushosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
	"github.com/sentryagent/agentidp/gateway/internal/topology"
)

const (
	// safeRetryOn only retries requests that never reached a service
	// (connection refused, stream refused, reset before the request was
	// sent), which is safe for every method, POST included.
	safeRetryOn = "connect-failure,refused-stream,reset-before-request"
)

// routeConfig is the route table: fixed health routes, then the paths of
// each catalog service. A path that matches nothing is a 404 from the
// transcoder (reject_unknown_method) or the router, which
// localReplyConfig renders as ROUTE_NOT_FOUND.
func routeConfig(configured map[string]bool, timeout time.Duration, limits map[catalog.Limit]topology.Limit) *route.RouteConfiguration {
	routes := []*route.Route{
		{
			// Liveness of the gateway itself: answered by Envoy, so it stays
			// up even when the control plane is down.
			Name:  "healthz",
			Match: exact("/healthz"),
			Action: &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{
				Status: 200,
				Body:   &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: `{"status":"ok"}` + "\n"}},
			}},
			ResponseHeadersToAdd: []*core.HeaderValueOption{jsonContentType()},
			TypedPerFilterConfig: notTranscoded(),
		},
		{
			// Readiness: the control plane probes every service endpoint.
			Name:  "readyz",
			Match: exact("/readyz"),
			Action: &route.Route_Route{Route: &route.RouteAction{
				ClusterSpecifier: &route.RouteAction_Cluster{Cluster: GatewayHTTPCluster},
				Timeout:          durationpb.New(3 * time.Second),
			}},
			TypedPerFilterConfig: notTranscoded(),
		},
	}
	for _, svc := range catalog.Services() {
		for i, r := range svc.Routes {
			rt := &route.Route{Name: fmt.Sprintf("%s/%d", svc.Name, i), Match: match(r)}
			switch {
			case !configured[svc.Name]:
				rt.Action = notConfigured(svc.Name)
				rt.TypedPerFilterConfig = notTranscoded()
			case !svc.Public && !configured[catalog.Authz]:
				// Fail closed: without an authz service nothing is authorised.
				rt.Action = notConfigured(catalog.Authz)
				rt.TypedPerFilterConfig = notTranscoded()
			default:
				rt.Action = &route.Route_Route{Route: serviceAction(svc.Name, timeout)}
				if svc.Protocol != catalog.GRPCTranscoded {
					rt.TypedPerFilterConfig = notTranscoded()
				} else {
					rt.RequestHeadersToAdd = []*core.HeaderValueOption{{
						Header:       &core.HeaderValue{Key: GatewayMark, Value: "true"},
						AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
					}}
				}
				if l, ok := limits[r.Limit]; ok && r.Limit != "" && l.PerSecond > 0 {
					if rt.TypedPerFilterConfig == nil {
						rt.TypedPerFilterConfig = map[string]*anypb.Any{}
					}
					rt.TypedPerFilterConfig[localRateLimitFilter] = routeLimit(l)
				}
			}
			routes = append(routes, rt)
		}
	}
	// Last: whatever no route above claims is the web dashboard's.
	routes = append(routes, dashboardRoute())
	for _, rt := range routes {
		if !authorised(rt) {
			if rt.TypedPerFilterConfig == nil {
				rt.TypedPerFilterConfig = map[string]*anypb.Any{}
			}
			rt.TypedPerFilterConfig[extAuthzFilter] = mustAny(&extauthz.ExtAuthzPerRoute{
				Override: &extauthz.ExtAuthzPerRoute_Disabled{Disabled: true},
			})
		}
	}
	return &route.RouteConfiguration{
		Name: RouteConfigName,
		VirtualHosts: []*route.VirtualHost{{
			Name:    virtualHostName,
			Domains: []string{"*"},
			Routes:  routes,
		}},
	}
}

// authorised reports whether a route goes through ext_authz: every route
// but the gateway's health routes, the routes of Public services (the token
// service authenticates its own clients), the web dashboard's static files
// (the page itself is public; every API call it makes carries a token), and
// direct 503s for services not configured.
func authorised(rt *route.Route) bool {
	switch rt.GetName() {
	case "healthz", "readyz", "dashboard":
		return false
	}
	if rt.GetDirectResponse() != nil {
		return false
	}
	name, _, _ := strings.Cut(rt.GetName(), "/")
	if svc, ok := catalog.Lookup(name); ok && svc.Public {
		return false
	}
	return true
}

// notConfigured says what is wrong instead of a misleading 404.
func notConfigured(service string) *route.Route_DirectResponse {
	return &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{
		Status: 503,
		Body: &core.DataSource{Specifier: &core.DataSource_InlineString{
			InlineString: fmt.Sprintf("service %s is not configured on this gateway", service),
		}},
	}}
}

func serviceAction(cluster string, timeout time.Duration) *route.RouteAction {
	return &route.RouteAction{
		ClusterSpecifier: &route.RouteAction_Cluster{Cluster: cluster},
		// Bounds the whole call, retries included.
		Timeout: durationpb.New(timeout),
		RetryPolicy: &route.RetryPolicy{
			RetryOn:    safeRetryOn,
			NumRetries: wrapperspb.UInt32(2),
			// Try another endpoint, not the one that just refused.
			RetryHostPredicate: []*route.RetryPolicy_RetryHostPredicate{{
				Name:       "envoy.retry_host_predicates.previous_hosts",
				ConfigType: &route.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: mustAny(&previoushosts.PreviousHostsPredicate{})},
			}},
			HostSelectionRetryMaxAttempts: 3,
		},
	}
}

func match(r catalog.Route) *route.RouteMatch {
	if r.Path != "" {
		return exact(r.Path)
	}
	if r.Regex != "" {
		// safe_regex matches the whole path (RE2).
		return &route.RouteMatch{PathSpecifier: &route.RouteMatch_SafeRegex{
			SafeRegex: &matcher.RegexMatcher{Regex: r.Regex},
		}}
	}
	return &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: r.Prefix}}
}

func exact(path string) *route.RouteMatch {
	return &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: path}}
}

// notTranscoded switches the transcoder off for a route that is not a gRPC
// service: with reject_unknown_method it would otherwise answer 404 for
// every path it cannot map to a method.
func notTranscoded() map[string]*anypb.Any {
	return map[string]*anypb.Any{transcoderFilter: mustAny(&route.FilterConfig{Disabled: true})}
}

func jsonContentType() *core.HeaderValueOption {
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: "content-type", Value: "application/json"},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
