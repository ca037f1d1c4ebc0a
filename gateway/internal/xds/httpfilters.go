package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	bodysizelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/body_size_limit/v3"
	transcoder "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HTTP filter names, as routes refer to them in typed_per_filter_config.
const (
	bodyLimitFilter  = "envoy.filters.http.body_size_limit"
	luaFilter        = wellknown.Lua
	transcoderFilter = wellknown.GRPCJSONTranscoder
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
func httpFilters(descriptor []byte, grpcServices []string) []*hcm.HttpFilter {
	return []*hcm.HttpFilter{
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

		// ── ext_authz goes HERE ──────────────────────────────────────────
		// envoy.filters.http.ext_authz must sit before the transcoder so that
		// it sees the REST request (method, /v1/... path, headers) the
		// policy is written against, not the transcoded gRPC call.

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
