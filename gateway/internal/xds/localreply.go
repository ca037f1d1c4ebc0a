package xds

import (
	"fmt"

	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	celfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
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
	// refine marks replies whose reason responseLua settles from the text.
	refine bool
	// message replaces Envoy's text where Envoy has none.
	message string
}

// localReplies are tried in order; the first match wins. The response code
// details that tell transcoder failures apart were found by running Envoy
// 1.40 (see gateway/README.md).
var localReplies = []localReply{
	{
		// A client address over a per-address limit (routeLimit); the
		// local rate limit adds Retry-After.
		when:    `response.code_details == "local_rate_limited"`,
		code:    codes.ResourceExhausted,
		reason:  apierror.ReasonRateLimited,
		message: "too many requests from this address; retry later",
	},
	{
		// ext_authz could not get a decision (authz down, slow, or not
		// configured): the request is refused, never let through.
		when:    `response.code_details.startsWith("ext_authz_error")`,
		code:    codes.Unavailable,
		reason:  apierror.ReasonServiceUnavailable,
		message: "the authorization service is unavailable",
	},
	{
		when:    `response.code_details == "path_normalization_failed"`,
		code:    codes.InvalidArgument,
		reason:  apierror.ReasonMalformedRequest,
		message: "the request path is not valid (escaped slashes are not allowed)",
	},
	{
		// The router's own 404 (no route at all); it has no text.
		when:    `response.code_details == "route_not_found"`,
		code:    apierror.ErrRouteNotFound.Kind.Code(),
		reason:  apierror.ErrRouteNotFound.Reason,
		message: apierror.ErrRouteNotFound.Message,
	},
	{
		// The transcoder failed on the URL, before reading any body: an
		// unknown query parameter (responseLua tells) or a bad value in one.
		when:   `response.code == 400 && response.code_details == "early_grpc_json_transcode_failure{INVALID_ARGUMENT}"`,
		code:   codes.InvalidArgument,
		reason: apierror.ReasonMalformedRequest,
		refine: true,
	},
	{
		// Mostly grpc_json_transcode_failure{INVALID_ARGUMENT}: a body that
		// is not JSON or does not fit the request message.
		when:   `response.code == 400`,
		code:   codes.InvalidArgument,
		reason: apierror.ReasonMalformedRequest,
	},
	{
		// No route, or a route whose method/path the transcoder cannot map
		// to an RPC (early_grpc_json_transcode_failure{NOT_FOUND}).
		when:   `response.code == 404`,
		code:   codes.NotFound,
		reason: apierror.ReasonRouteNotFound,
	},
	{
		// As gRPC does for a message over the size limit. 431: the request
		// line and headers (a long query string included) are over Envoy's
		// limit, or there are too many headers.
		when:   `response.code == 413 || response.code == 431`,
		code:   codes.ResourceExhausted,
		reason: "REQUEST_TOO_LARGE",
	},
	{
		when:   `response.code == 500 && response.code_details.contains("response_buffer_size_limit_reached")`,
		code:   codes.Internal,
		reason: "RESPONSE_TOO_LARGE",
	},
	{
		// No healthy endpoint, connection refused or reset, circuit breaker
		// open, or a service not configured on this gateway.
		when:   `response.code == 503`,
		code:   codes.Unavailable,
		reason: apierror.ReasonServiceUnavailable,
	},
	{
		when:   `response.code == 504`,
		code:   codes.DeadlineExceeded,
		reason: "UPSTREAM_TIMEOUT",
	},
	{
		when:   `response.code >= 400`,
		code:   codes.Unknown,
		reason: "GATEWAY_ERROR",
	},
}

// oauthLocalReplies come first: OAuth clients of /oauth2/* expect RFC 6749
// §5.2 errors, not google.rpc.Status, also when Envoy answers itself. A
// 429 is temporarily_unavailable, as the token service's own (RFC 6749 has
// no rate-limit code, and every OAuth client knows that one).
var oauthLocalReplies = []struct{ when, code, message string }{
	{`request.path.startsWith('/oauth2/') && response.code_details == "local_rate_limited"`, "temporarily_unavailable",
		"too many requests from this address; retry later"},
	{`request.path.startsWith('/oauth2/') && response.code >= 500`, "temporarily_unavailable", ""},
	{`request.path.startsWith('/oauth2/') && response.code >= 400`, "invalid_request", ""},
}

// localReplyConfig maps every error Envoy generates to AgentIdP's JSON
// error shape. Non-error local replies (the /healthz direct response) match
// no mapper and keep their body.
func localReplyConfig() *hcm.LocalReplyConfig {
	// A denial from the authz service is already an AgentIdP error (JSON
	// body, WWW-Authenticate, Retry-After): matched first and left alone.
	cfg := &hcm.LocalReplyConfig{Mappers: []*hcm.ResponseMapper{{
		Filter: celFilter(`response.code_details == "ext_authz_denied"`),
	}}}
	for _, r := range oauthLocalReplies {
		m := &hcm.ResponseMapper{
			Filter:             celFilter(r.when),
			BodyFormatOverride: oauthBody(r.code),
		}
		if r.message != "" {
			m.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: r.message}}
		}
		cfg.Mappers = append(cfg.Mappers, m)
	}
	for _, r := range localReplies {
		m := &hcm.ResponseMapper{
			Filter:             celFilter(r.when),
			BodyFormatOverride: statusBody(r.code, r.reason),
		}
		if r.message != "" {
			m.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: r.message}}
		}
		if r.refine {
			m.HeadersToAdd = []*core.HeaderValueOption{{
				Header:       &core.HeaderValue{Key: refineHeader, Value: "1"},
				AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			}}
		}
		cfg.Mappers = append(cfg.Mappers, m)
	}
	return cfg
}

// oauthBody renders an RFC 6749 §5.2 error with Envoy's own text.
func oauthBody(code string) *core.SubstitutionFormatString {
	return &core.SubstitutionFormatString{
		Format: &core.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{
			"error":             structpb.NewStringValue(code),
			"error_description": structpb.NewStringValue("%LOCAL_REPLY_BODY%"),
		}}},
		ContentType: "application/json",
	}
}

func celFilter(expr string) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_ExtensionFilter{
		ExtensionFilter: &accesslog.ExtensionFilter{
			Name:       "envoy.access_loggers.extension_filters.cel",
			ConfigType: &accesslog.ExtensionFilter_TypedConfig{TypedConfig: mustAny(&celfilter.ExpressionFilter{Expression: expr})},
		},
	}}
}

// statusBody renders the error shape every /v1 error has (libs/apierror
// Body: google.rpc.Status with one google.rpc.ErrorInfo) as Envoy's JSON
// format. The message is Envoy's own text (%LOCAL_REPLY_BODY%, e.g. "no
// healthy upstream"); the metadata lets support find the request in the
// access log.
func statusBody(code codes.Code, reason string) *core.SubstitutionFormatString {
	body := apierror.Body{Code: code, Message: "%LOCAL_REPLY_BODY%", Reason: reason, Metadata: map[string]string{
		"requestId":           "%REQ(X-REQUEST-ID)%",
		"responseCodeDetails": "%RESPONSE_CODE_DETAILS%",
	}}
	format := &structpb.Struct{}
	if err := protojson.Unmarshal(body.JSON(), format); err != nil {
		panic(fmt.Sprintf("xds: error body %s: %v", body.JSON(), err)) // a constant shape: a test catches it
	}
	return &core.SubstitutionFormatString{
		Format:      &core.SubstitutionFormatString_JsonFormat{JsonFormat: format},
		ContentType: "application/json",
		// A request rejected before Envoy gave it an id has none: omit the
		// key rather than send null in a map of strings.
		OmitEmptyValues: true,
	}
}
