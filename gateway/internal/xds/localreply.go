package xds

import (
	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	celfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// localReply describes one kind of reply that Envoy generates itself (no
// route, no healthy upstream, timeout, a request the transcoder rejects)
// and the google.rpc.Status it becomes. Replies that come from a service
// are not touched: the transcoder already turns their gRPC status into
// that shape.
type localReply struct {
	// when is a CEL expression over Envoy's request/response attributes.
	when   string
	code   codes.Code
	reason string
	// message is an Envoy format string; %LOCAL_REPLY_BODY% is Envoy's own
	// text, e.g. "no healthy upstream".
	message string
}

// localReplies are tried in order; the first match wins. The response code
// details that tell transcoder failures apart were found by running Envoy
// 1.40 (see gateway/README.md).
var localReplies = []localReply{
	{
		when:    `response.code == 400 && response.code_details.startsWith("early_grpc_json_transcode_failure") && response.code_details.contains("query")`,
		code:    codes.InvalidArgument,
		reason:  "UNKNOWN_QUERY_PARAMETER",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code == 400`,
		code:    codes.InvalidArgument,
		reason:  "MALFORMED_REQUEST",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code == 404`,
		code:    codes.NotFound,
		reason:  "ROUTE_NOT_FOUND",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code == 413`,
		code:    codes.ResourceExhausted,
		reason:  "REQUEST_TOO_LARGE",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code == 503`,
		code:    codes.Unavailable,
		reason:  "SERVICE_UNAVAILABLE",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code == 504`,
		code:    codes.DeadlineExceeded,
		reason:  "UPSTREAM_TIMEOUT",
		message: "%LOCAL_REPLY_BODY%",
	},
	{
		when:    `response.code >= 400`,
		code:    codes.Unknown,
		reason:  "GATEWAY_ERROR",
		message: "%LOCAL_REPLY_BODY%",
	},
}

// localReplyConfig maps every error Envoy generates to AgentIdP's JSON
// error shape. Non-error local replies (the /healthz direct response) match
// no mapper and keep their body.
func localReplyConfig() *hcm.LocalReplyConfig {
	cfg := &hcm.LocalReplyConfig{}
	for _, r := range localReplies {
		cfg.Mappers = append(cfg.Mappers, &hcm.ResponseMapper{
			Filter:             celFilter(r.when),
			BodyFormatOverride: statusBody(r.code, r.reason, r.message),
		})
	}
	return cfg
}

func celFilter(expr string) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_ExtensionFilter{
		ExtensionFilter: &accesslog.ExtensionFilter{
			Name:       "envoy.access_loggers.extension_filters.cel",
			ConfigType: &accesslog.ExtensionFilter_TypedConfig{TypedConfig: mustAny(&celfilter.ExpressionFilter{Expression: expr})},
		},
	}}
}

// statusBody renders a google.rpc.Status with one google.rpc.ErrorInfo, the
// shape every /v1 error has (ARCHITECTURE.md, "Errors").
func statusBody(code codes.Code, reason, message string) *core.SubstitutionFormatString {
	body := &structpb.Struct{Fields: map[string]*structpb.Value{
		"code":    structpb.NewNumberValue(float64(code)),
		"message": structpb.NewStringValue(message),
		"details": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
			structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				"@type":  structpb.NewStringValue("type.googleapis.com/google.rpc.ErrorInfo"),
				"reason": structpb.NewStringValue(reason),
				"domain": structpb.NewStringValue(apierror.Domain),
				"metadata": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"requestId":           structpb.NewStringValue("%REQ(X-REQUEST-ID)%"),
					"responseCodeDetails": structpb.NewStringValue("%RESPONSE_CODE_DETAILS%"),
				}}),
			}}),
		}}),
	}}
	return &core.SubstitutionFormatString{
		Format:      &core.SubstitutionFormatString_JsonFormat{JsonFormat: body},
		ContentType: "application/json",
	}
}
