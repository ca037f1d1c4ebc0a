package xds

import (
	"net/netip"
	"time"

	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	mutationrules "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	stream "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	reqwithoutquery "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	earlymutation "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// publicListener is the one listener clients talk to: plain HTTP (TLS is
// terminated in front of the gateway, or added here later), routes over
// RDS, and the filter chain of httpFilters.
func publicListener(addr netip.AddrPort, descriptor []byte, grpcServices []string, authzTimeout time.Duration) *listener.Listener {
	manager := &hcm.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcm.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: RouteConfigName,
		}},
		HttpFilters: httpFilters(descriptor, grpcServices, authzTimeout),
		// Identity headers come from the authz service only: any copy a
		// client sends is dropped before routing and filters see the
		// request (on every route, also those without ext_authz), and a
		// client's x-request-id too, so that Envoy issues a fresh one.
		EarlyHeaderMutationExtensions: []*core.TypedExtensionConfig{stripIdentityHeaders()},
		LocalReplyConfig:              localReplyConfig(),
		AccessLog:                     []*accesslog.AccessLog{stdoutAccessLog()},

		// Edge-proxy hardening (Envoy's "configuring Envoy as an edge
		// proxy" guide): trust no client-supplied X-Forwarded-For, and
		// normalise paths before routing and authorisation see them. No
		// AgentIdP path contains an escaped slash, and one would let a path
		// mean one thing to a path-based policy and another to a service.
		UseRemoteAddress:             wrapperspb.Bool(true),
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcm.HttpConnectionManager_REJECT_REQUEST,
		RequestHeadersTimeout:        durationpb.New(10 * time.Second),
		StreamIdleTimeout:            durationpb.New(5 * time.Minute),
		CommonHttpProtocolOptions: &core.HttpProtocolOptions{
			IdleTimeout:                  durationpb.New(time.Hour),
			HeadersWithUnderscoresAction: core.HttpProtocolOptions_REJECT_REQUEST,
		},
		// Clients quote the request id when they report a problem; it is
		// also in every error body and access log line.
		AlwaysSetRequestIdInResponse: true,
	}
	return &listener.Listener{
		Name:    ListenerName,
		Address: socketAddress(addr),
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(manager)},
			}},
		}},
	}
}

// stdoutAccessLog writes one JSON line per request. Method and path are
// what the client sent (the transcoder rewrites both); upstreamPath is the
// gRPC method called. Paths are logged without their query string, which
// may carry things that are nobody's business.
func stdoutAccessLog() *accesslog.AccessLog {
	fields := map[string]string{
		"time":                "%START_TIME%",
		"requestId":           "%REQ(X-REQUEST-ID)%",
		"method":              "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
		"path":                "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"upstreamPath":        "%REQ_WITHOUT_QUERY(:PATH)%",
		"protocol":            "%PROTOCOL%",
		"status":              "%RESPONSE_CODE%",
		"grpcStatus":          "%GRPC_STATUS_NUMBER%",
		"responseFlags":       "%RESPONSE_FLAGS%",
		"responseCodeDetails": "%RESPONSE_CODE_DETAILS%",
		"bytesReceived":       "%BYTES_RECEIVED%",
		"bytesSent":           "%BYTES_SENT%",
		"durationMs":          "%DURATION%",
		"upstreamCluster":     "%UPSTREAM_CLUSTER%",
		"upstreamHost":        "%UPSTREAM_HOST%",
		"client":              "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
		"userAgent":           "%REQ(USER-AGENT)%",
	}
	format := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(fields))}
	for k, v := range fields {
		format.Fields[k] = structpb.NewStringValue(v)
	}
	return &accesslog.AccessLog{
		Name: "envoy.access_loggers.stdout",
		ConfigType: &accesslog.AccessLog_TypedConfig{TypedConfig: mustAny(&stream.StdoutAccessLog{
			AccessLogFormat: &stream.StdoutAccessLog_LogFormat{LogFormat: &core.SubstitutionFormatString{
				Format: &core.SubstitutionFormatString_JsonFormat{JsonFormat: format},
				Formatters: []*core.TypedExtensionConfig{{
					Name:        "envoy.formatter.req_without_query",
					TypedConfig: mustAny(&reqwithoutquery.ReqWithoutQuery{}),
				}},
			}},
		})},
	}
}

func socketAddress(addr netip.AddrPort) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       addr.Addr().String(),
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(addr.Port())},
	}}}
}

// IdentityHeaders are set upstream by the authz service (the caller's id,
// owner and scopes, the request id) or by the route (the gateway's mark)
// alone: a client's copy is removed before anything reads it.
var IdentityHeaders = []string{"x-agent-id", "x-agent-owner", "x-agent-scopes", "x-request-id", GatewayMark}

// GatewayMark is set on every request routed to a gRPC service: the
// services then know the call is a client's, and give one that reached
// them without an identity from authz nothing (libs/requestinfo).
const GatewayMark = "x-agentidp-gateway"

// EnvoyOnlyHeaders are Envoy's own notes on a request it rewrote (the
// transcoder turns every /v1 call into a POST). The access log records the
// client's method and path from them, so a client's copy would let it write
// the log line: a DELETE logged as a GET.
var EnvoyOnlyHeaders = []string{"x-envoy-original-method", "x-envoy-original-path"}

func stripIdentityHeaders() *core.TypedExtensionConfig {
	var mutations []*mutationrules.HeaderMutation
	for _, h := range append(append([]string(nil), IdentityHeaders...), EnvoyOnlyHeaders...) {
		mutations = append(mutations, &mutationrules.HeaderMutation{
			Action: &mutationrules.HeaderMutation_Remove{Remove: h},
		})
	}
	return &core.TypedExtensionConfig{
		Name:        "envoy.http.early_header_mutation.header_mutation",
		TypedConfig: mustAny(&earlymutation.HeaderMutation{Mutations: mutations}),
	}
}
