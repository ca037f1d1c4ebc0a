package xds

import (
	"time"

	mutationrules "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	bodysizelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/body_size_limit/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	transcoder "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
)

// HTTP filter names, as routes refer to them in typed_per_filter_config.
const (
	bodyLimitFilter  = "envoy.filters.http.body_size_limit"
	luaFilter        = wellknown.Lua
	transcoderFilter = wellknown.GRPCJSONTranscoder
	extAuthzFilter   = wellknown.HTTPExternalAuthorization
	// maxAuthzBody is how much of a request body ext_authz buffers and sends
	// to the authz service (the policy reads agent writes' bodies). A body
	// larger than this is refused with 413 rather than authorised unseen.
	maxAuthzBody = 64 << 10
	// maxBody caps request bodies and transcoded responses: 1 MiB, the
	// AgentIdP gRPC servers' MaxRecvMsgSize.
	maxBody = 1 << 20
)

// StatusHeader lets a gRPC method choose the HTTP status of its REST
// mapping (e.g. 201 for CreateAgent): the service sets it as response
// header metadata and the gateway moves it into :status.
const StatusHeader = "x-http-status-code"

// httpFilters is the filter chain of the public listener, in order.
// Requests pass through it top to bottom, responses bottom to top.
func httpFilters(descriptor []byte, grpcServices []string, authzTimeout time.Duration) []*hcm.HttpFilter {
	return []*hcm.HttpFilter{
		// First: a client address over its limit costs nothing more.
		localRateLimitHTTPFilter(),
		{
			// The transcoder's own max_request_body_size only bounds what it
			// buffers, and it parses JSON as it streams, so a large body
			// would reach the service; this bounds the body itself (413).
			Name: bodyLimitFilter,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&bodysizelimit.BodySizeLimit{
				MaxRequestBytes: wrapperspb.UInt64(maxBody),
			})},
		},
		{
			// Runs on responses after the transcoder: see responseLua.
			Name: luaFilter,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&lua.Lua{
				DefaultSourceCode: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: responseLua}},
			})},
		},

		// Before the transcoder, so that the policy sees the REST request
		// (method, /v1/... path, headers, JSON body), not the gRPC call.
		extAuthz(authzTimeout),
		{
			Name: transcoderFilter,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&transcoder.GrpcJsonTranscoder{
				DescriptorSet: &transcoder.GrpcJsonTranscoder_ProtoDescriptorBin{ProtoDescriptorBin: descriptor},
				Services:      grpcServices,
				// Routing uses the REST path, so REST routes stay readable and
				// ext_authz and the access log see what the client sent.
				MatchIncomingRequestRoute: true,
				// gRPC errors become google.rpc.Status JSON with details.
				ConvertGrpcStatus: true,
				// "+" in a query string is a space, as form encoding (Go's
				// url.Values, URLSearchParams) writes it and as authz's policy
				// input reads it: the policy and the service must see one value.
				QueryParamUnescapePlus: true,
				RequestValidationOptions: &transcoder.GrpcJsonTranscoder_RequestValidationOptions{
					RejectUnknownMethod:          true,
					RejectUnknownQueryParameters: true,
				},
				PrintOptions: &transcoder.GrpcJsonTranscoder_PrintOptions{
					AlwaysPrintPrimitiveFields: true,
					PreserveProtoFieldNames:    false, // camelCase JSON (AIP)
				},
				MaxRequestBodySize:  wrapperspb.UInt32(maxBody),
				MaxResponseBodySize: wrapperspb.UInt32(maxBody),
			})},
		},
		{
			Name:       wellknown.Router,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&router.Router{})},
		},
	}
}

// AuthzHeaders are the request headers sent to the authz service (the
// request's method, path and host travel in their own fields): what the
// policy (policies/authz.rego) and the service read — the token, method
// overrides, the body's length and completeness, the client address
// (audit), the content type and the request id.
var AuthzHeaders = []string{"authorization", "x-http-method-override", "x-http-method", "x-method-override",
	"content-length", "x-envoy-auth-partial-body", "x-forwarded-for", "content-type", "x-request-id"}

func exactly(names ...string) []*matcher.StringMatcher {
	out := make([]*matcher.StringMatcher, len(names))
	for i, n := range names {
		out[i] = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: n}}
	}
	return out
}

// extAuthz asks the authz service about every request (routes that are
// Public switch it off): fail closed (an unreachable or slow authz service
// is a 503, never an open door), with the request body for the policy's
// attribute rules, and headers the service may set restricted to non-system
// ones (it sets x-agent-id, x-agent-scopes and x-request-id).
func extAuthz(timeout time.Duration) *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name: extAuthzFilter,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&extauthz.ExtAuthz{
			Services: &extauthz.ExtAuthz_GrpcService{GrpcService: &core.GrpcService{
				TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: catalog.Authz}},
				Timeout:         durationpb.New(timeout),
			}},
			TransportApiVersion: core.ApiVersion_V3,
			FailureModeAllow:    false,
			StatusOnError:       &envoytype.HttpStatus{Code: envoytype.StatusCode_ServiceUnavailable},
			WithRequestBody: &extauthz.BufferSettings{
				MaxRequestBytes:     maxAuthzBody,
				AllowPartialMessage: false,
				PackAsBytes:         true,
			},
			// Only the headers the policy reads (Envoy adds the method, path,
			// host, content-length and authorization itself): a smaller check
			// for Envoy to encode and authz to decode on every request.
			AllowedHeaders: &matcher.ListStringMatcher{Patterns: exactly(AuthzHeaders...)},
			DecoderHeaderMutationRules: &mutationrules.HeaderMutationRules{
				DisallowSystem: wrapperspb.Bool(true),
			},
			ValidateMutations: true,
			StatPrefix:        "authz",
		})},
	}
}
