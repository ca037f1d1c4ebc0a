package xds

import (
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	transcoder "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HTTP filter names, as routes refer to them in typed_per_filter_config.
const (
	luaStatusFilter   = wellknown.Lua
	transcoderFilter  = wellknown.GRPCJSONTranscoder
	maxTranscodedBody = 1 << 20 // 1 MiB, the gRPC servers' MaxRecvMsgSize
)

// StatusHeader lets a gRPC method choose the HTTP status of its REST
// mapping (e.g. 201 for CreateAgent): the service sets it as response
// header metadata and the gateway moves it into :status.
const StatusHeader = "x-http-status-code"

// statusLua runs on the response after the transcoder (encoders run in
// reverse order). It only upgrades a 200: an error status set by the
// transcoder from grpc-status always wins, and the header never reaches the
// client.
const statusLua = `
function envoy_on_response(handle)
  local headers = handle:headers()
  local code = headers:get("` + StatusHeader + `")
  if code == nil then
    return
  end
  headers:remove("` + StatusHeader + `")
  if headers:get(":status") == "200" and string.match(code, "^2%d%d$") then
    headers:replace(":status", code)
  end
end
`

// httpFilters is the filter chain of the public listener, in order.
func httpFilters(descriptor []byte, grpcServices []string) []*hcm.HttpFilter {
	return []*hcm.HttpFilter{
		{
			Name: luaStatusFilter,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&lua.Lua{
				DefaultSourceCode: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: statusLua}},
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
				MaxRequestBodySize:  wrapperspb.UInt32(maxTranscodedBody),
				MaxResponseBodySize: wrapperspb.UInt32(maxTranscodedBody),
			})},
		},
		{
			Name:       wellknown.Router,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&router.Router{})},
		},
	}
}
