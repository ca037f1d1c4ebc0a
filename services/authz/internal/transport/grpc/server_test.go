package grpc_test

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/sentryagent/agentidp/services/authz/internal/check"
	grpctransport "github.com/sentryagent/agentidp/services/authz/internal/transport/grpc"
)

func TestRequest(t *testing.T) {
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "7", Method: "POST", Path: "/v1/agents?x=1", Host: "h",
			HeaderMap: &core.HeaderMap{Headers: []*core.HeaderValue{
				{Key: "X-A", Value: "1"}, {Key: "x-a", RawValue: []byte("2")}, {Key: "authorization", Value: "Bearer t"},
			}},
			Body: "{}",
		}},
		Source:            &authv3.AttributeContext_Peer{Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{Address: "10.0.0.1"}}}},
		ContextExtensions: map[string]string{"app": "reports"},
	}}
	r := grpctransport.Request(req)
	if r.Headers["x-a"] != "1,2" || r.Headers["authorization"] != "Bearer t" || string(r.Body) != "{}" ||
		r.SourceAddress != "10.0.0.1" || r.ContextExtensions["app"] != "reports" || r.Path != "/v1/agents?x=1" {
		t.Fatalf("%+v", r)
	}
	if r := grpctransport.Request(&authv3.CheckRequest{}); r.Headers == nil {
		t.Fatal("nil headers for an empty request")
	}
}

func TestResponse(t *testing.T) {
	ok := grpctransport.Response(&check.Result{Allowed: true, Status: 200,
		UpstreamHeaders: []check.Header{{Name: "x-agent-id", Value: "a"}}, RemoveHeaders: []string{"x-agent-scopes"}})
	if ok.GetStatus().GetCode() != 0 || ok.GetOkResponse().GetHeaders()[0].GetHeader().GetKey() != "x-agent-id" ||
		ok.GetOkResponse().GetHeaders()[0].GetAppendAction() != core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD ||
		ok.GetOkResponse().GetHeadersToRemove()[0] != "x-agent-scopes" {
		t.Fatalf("%v", ok)
	}
	denied := grpctransport.Response(&check.Result{Status: 401, Reason: "UNAUTHENTICATED", Body: "{}",
		ResponseHeaders: []check.Header{{Name: "www-authenticate", Value: "Bearer"}}})
	if denied.GetStatus().GetCode() != 16 || denied.GetDeniedResponse().GetStatus().GetCode() != 401 ||
		denied.GetDeniedResponse().GetBody() != "{}" || denied.GetDeniedResponse().GetHeaders()[0].GetHeader().GetValue() != "Bearer" {
		t.Fatalf("%v", denied)
	}
	if grpctransport.Response(&check.Result{Status: 429}).GetStatus().GetCode() != 7 {
		t.Fatal("a 429 is PERMISSION_DENIED to Envoy")
	}
}
