package xds

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	localratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/sentryagent/agentidp/gateway/internal/topology"
)

func newBuilder(t *testing.T) *Builder {
	t.Helper()
	b, err := NewBuilder(BuilderConfig{GatewayHTTP: netip.MustParseAddrPort("127.0.0.1:18080")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func resolved(port uint16, endpoints ...string) *topology.Resolved {
	cfg := &topology.Config{
		Listener: topology.Listener{Address: "127.0.0.1", Port: int(port)},
		Services: map[string]topology.Service{"registry": {Endpoints: endpoints}},
	}
	res := &topology.Resolved{Config: cfg, Listener: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		Endpoints: map[string][]netip.AddrPort{}}
	for _, ep := range endpoints {
		res.Endpoints["registry"] = append(res.Endpoints["registry"], netip.MustParseAddrPort(ep))
	}
	return res
}

func versions(s *cache.Snapshot) map[types.ResponseType]string {
	out := map[types.ResponseType]string{}
	for _, typ := range []types.ResponseType{types.Listener, types.Route, types.Cluster, types.Endpoint} {
		out[typ] = s.Resources[typ].Version
	}
	return out
}

func TestBuildIsConsistentAndComplete(t *testing.T) {
	snap, err := newBuilder(t).Build(resolved(8080, "127.0.0.1:9101", "127.0.0.1:9102"))
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Consistent(); err != nil {
		t.Fatal(err)
	}
	for typ, names := range map[string][]string{
		resource.ListenerType: {ListenerName},
		resource.RouteType:    {RouteConfigName},
		// authz is always there: the ext_authz filter names its cluster.
		resource.ClusterType:  {GatewayHTTPCluster, "registry", "authz"},
		resource.EndpointType: {"registry", "authz"},
	} {
		got := snap.GetResources(typ)
		if len(got) != len(names) {
			t.Errorf("%s: %d resources, want %v", typ, len(got), names)
		}
		for _, n := range names {
			if _, ok := got[n]; !ok {
				t.Errorf("%s: no %q", typ, n)
			}
		}
	}
}

// TestVersionsFollowContent checks that each resource type's version is a
// function of its content, so Envoy is sent exactly the types that changed.
func TestVersionsFollowContent(t *testing.T) {
	b := newBuilder(t)
	build := func(res *topology.Resolved) map[types.ResponseType]string {
		t.Helper()
		s, err := b.Build(res)
		if err != nil {
			t.Fatal(err)
		}
		return versions(s)
	}
	base := build(resolved(8080, "127.0.0.1:9101"))

	tests := []struct {
		name    string
		res     *topology.Resolved
		changed []types.ResponseType
	}{
		{name: "same input", res: resolved(8080, "127.0.0.1:9101")},
		{name: "new endpoint", res: resolved(8080, "127.0.0.1:9101", "127.0.0.1:9102"), changed: []types.ResponseType{types.Endpoint}},
		{name: "moved listener", res: resolved(8081, "127.0.0.1:9101"), changed: []types.ResponseType{types.Listener}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := build(tt.res)
			changed := map[types.ResponseType]bool{}
			for _, typ := range tt.changed {
				changed[typ] = true
			}
			for typ, v := range got {
				if (v != base[typ]) != changed[typ] {
					t.Errorf("type %v: version %s -> %s, changed should be %v", typ, base[typ], v, changed[typ])
				}
			}
		})
	}
}

func TestUnconfiguredServiceAnswers503(t *testing.T) {
	rc := routeConfig(map[string]bool{}, time.Second, nil)
	var found bool
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		if r.GetMatch().GetPath() == "/v1/agents" {
			found = true
			dr, ok := r.GetAction().(*route.Route_DirectResponse)
			if !ok || dr.DirectResponse.GetStatus() != 503 {
				t.Errorf("route for an unconfigured service = %v", r.GetAction())
			}
			if _, ok := r.GetTypedPerFilterConfig()[transcoderFilter]; !ok {
				t.Error("transcoder not disabled on the 503 route")
			}
		}
	}
	if !found {
		t.Fatal("no /v1/agents route")
	}
}

// TestServiceClusters: gRPC services are health-checked over
// grpc.health.v1 on HTTP/2, HTTP services (token) with GET /readyz on
// HTTP/1.1.
func TestServiceClusters(t *testing.T) {
	res := resolved(8080, "127.0.0.1:9101")
	res.Config.Services["token"] = topology.Service{Endpoints: []string{"127.0.0.1:9103"}}
	res.Endpoints["token"] = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9103")}
	snap, err := newBuilder(t).Build(res)
	if err != nil {
		t.Fatal(err)
	}
	clusters := snap.GetResources(resource.ClusterType)
	reg := clusters["registry"].(*cluster.Cluster)
	if reg.GetHealthChecks()[0].GetGrpcHealthCheck() == nil || len(reg.GetTypedExtensionProtocolOptions()) == 0 {
		t.Errorf("registry cluster: %v", reg)
	}
	tok, ok := clusters["token"].(*cluster.Cluster)
	if !ok {
		t.Fatal("no token cluster")
	}
	hc := tok.GetHealthChecks()
	if len(hc) != 1 || hc[0].GetHttpHealthCheck().GetPath() != "/readyz" {
		t.Errorf("token health checks: %v", hc)
	}
	if len(tok.GetTypedExtensionProtocolOptions()) != 0 {
		t.Error("token cluster speaks HTTP/2 to an HTTP/1.1 service")
	}
	if _, ok := snap.GetResources(resource.EndpointType)["token"]; !ok {
		t.Error("no token endpoints")
	}
}

func TestBuildRejectsUnknownService(t *testing.T) {
	res := resolved(8080, "127.0.0.1:1")
	res.Config.Services["ghost"] = topology.Service{Endpoints: []string{"127.0.0.1:2"}}
	if _, err := newBuilder(t).Build(res); err == nil {
		t.Fatal("Build accepted a service missing from the catalog")
	}
}

func TestProtectedRoutesFailClosedWithoutAuthz(t *testing.T) {
	rc := routeConfig(map[string]bool{"registry": true, "token": true}, time.Second, nil)
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		switch {
		case r.GetMatch().GetPath() == "/v1/agents":
			dr, ok := r.GetAction().(*route.Route_DirectResponse)
			if !ok || dr.DirectResponse.GetStatus() != 503 || !strings.Contains(dr.DirectResponse.GetBody().GetInlineString(), "authz") {
				t.Errorf("/v1/agents without authz = %v", r.GetAction())
			}
		case r.GetMatch().GetPrefix() == "/oauth2/":
			if _, ok := r.GetAction().(*route.Route_Route); !ok {
				t.Errorf("/oauth2/ without authz = %v, want routed (it authenticates its clients)", r.GetAction())
			}
		}
	}
}

// TestExtAuthzCoverage: ext_authz is off exactly on the health routes, the
// routes of Public services (token), the dashboard and direct 503s.
func TestExtAuthzCoverage(t *testing.T) {
	all := map[string]bool{"registry": true, "credentials": true, "audit": true, "token": true, "authz": true}
	rc := routeConfig(all, time.Second, nil)
	off := map[string]bool{}
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		if _, ok := r.GetTypedPerFilterConfig()[extAuthzFilter]; ok {
			off[r.GetName()] = true
		}
	}
	for _, name := range []string{"healthz", "readyz", "token/0", "token/1", "dashboard"} {
		if !off[name] {
			t.Errorf("ext_authz runs on %s", name)
		}
	}
	for _, name := range []string{"registry/0", "registry/1", "credentials/0", "audit/0", "audit/1", "audit/2"} {
		if off[name] {
			t.Errorf("ext_authz is off on %s", name)
		}
	}
}

// TestExtAuthzFilter: before the transcoder, fail closed, with the body.
func TestExtAuthzFilter(t *testing.T) {
	filters := httpFilters(nil, nil, 750*time.Millisecond)
	var names []string
	for _, f := range filters {
		names = append(names, f.GetName())
	}
	got := strings.Join(names, ",")
	if !strings.Contains(got, extAuthzFilter+","+transcoderFilter) {
		t.Fatalf("filter order %s: ext_authz must come right before the transcoder", got)
	}
	var cfg extauthz.ExtAuthz
	for _, f := range filters {
		if f.GetName() == extAuthzFilter {
			if err := f.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cfg.GetFailureModeAllow() || cfg.GetStatusOnError().GetCode() != 503 ||
		cfg.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "authz" ||
		cfg.GetGrpcService().GetTimeout().AsDuration() != 750*time.Millisecond ||
		cfg.GetWithRequestBody().GetMaxRequestBytes() == 0 || cfg.GetWithRequestBody().GetAllowPartialMessage() {
		t.Fatalf("ext_authz config: %v", &cfg)
	}
}

// TestPerSourceLimit: the OAuth routes, and only they, carry a bucket per
// client address (the gateway config's rateLimits.oauth, its default when
// absent, none at 0), and the snapshot passes Envoy's validation rules.
func TestPerSourceLimit(t *testing.T) {
	limited := func(cfg *topology.Config) map[string]*localratelimit.LocalRateLimit {
		t.Helper()
		res := resolved(8080, "127.0.0.1:9101")
		res.Config.RateLimits = cfg.RateLimits
		res.Config.Services["token"] = topology.Service{Endpoints: []string{"127.0.0.1:9103"}}
		res.Endpoints["token"] = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9103")}
		snap, err := newBuilder(t).Build(res)
		if err != nil {
			t.Fatal(err)
		}
		rc := snap.GetResources(resource.RouteType)[RouteConfigName].(*route.RouteConfiguration)
		out := map[string]*localratelimit.LocalRateLimit{}
		for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
			if a, ok := r.GetTypedPerFilterConfig()[localRateLimitFilter]; ok {
				var l localratelimit.LocalRateLimit
				if err := a.UnmarshalTo(&l); err != nil {
					t.Fatal(err)
				}
				out[r.GetName()] = &l
			}
		}
		return out
	}
	got := limited(&topology.Config{})
	l, ok := got["token/0"]
	if len(got) != 1 || !ok {
		t.Fatalf("limited routes %v, want token/0 (/oauth2/) alone", got)
	}
	if err := l.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	d := l.GetDescriptors()
	if d[0].GetTokenBucket().GetMaxTokens() != uint32(topology.DefaultOAuthLimit.Burst) ||
		d[0].GetTokenBucket().GetTokensPerFill().GetValue() != uint32(topology.DefaultOAuthLimit.PerSecond) ||
		d[0].GetEntries()[0].GetKey() != "masked_remote_address" || d[0].GetEntries()[0].GetValue() != "" {
		t.Errorf("descriptor %v, want a bucket per address at the default limit", d)
	}
	action := l.GetRateLimits()[0].GetActions()[0].GetMaskedRemoteAddress()
	if action.GetV4PrefixMaskLen().GetValue() != 32 || action.GetV6PrefixMaskLen().GetValue() != 64 ||
		!l.GetEnableRetryAfterHeader() || l.GetAlwaysConsumeDefaultTokenBucket().GetValue() ||
		l.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 || l.GetMaxDynamicDescriptors().GetValue() < 10000 {
		t.Errorf("limit config %v", l)
	}
	got = limited(&topology.Config{RateLimits: topology.RateLimits{OAuth: &topology.Limit{PerSecond: 7}}})
	if b := got["token/0"].GetDescriptors()[0].GetTokenBucket(); b.GetMaxTokens() != 14 || b.GetTokensPerFill().GetValue() != 7 {
		t.Errorf("configured limit: %v", b)
	}
	if got = limited(&topology.Config{RateLimits: topology.RateLimits{OAuth: &topology.Limit{PerSecond: 0}}}); len(got) != 0 {
		t.Errorf("perSecond 0 still limits %v", got)
	}
	// The filter itself is first in the chain and limits nothing alone.
	f := httpFilters(nil, nil, time.Second)[0]
	var global localratelimit.LocalRateLimit
	if err := f.GetTypedConfig().UnmarshalTo(&global); err != nil || f.GetName() != localRateLimitFilter || global.GetTokenBucket() != nil {
		t.Fatalf("first filter %s: %v %v", f.GetName(), &global, err)
	}
}
