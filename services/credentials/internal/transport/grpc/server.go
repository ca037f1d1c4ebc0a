// Package grpc serves the credentials endpoints as
// agentidp.credentials.v1.CredentialsService (REST through Envoy's
// transcoder under /v1/agents/{agentId}/credentials) and the internal
// agentidp.credentials.v1.ClientAuthService for the token service.
package grpc

import (
	"context"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc/metadata"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/endpoints"
)

// HTTPStatusHeader is response metadata that the gateway turns into the
// HTTP status code (gRPC has no "201 Created").
const HTTPStatusHeader = "x-http-status-code"

type server struct {
	credentialsv1.UnimplementedCredentialsServiceServer
	create, list, rotate, revoke kitgrpc.Handler
}

type authServer struct {
	credentialsv1.UnimplementedClientAuthServiceServer
	verify kitgrpc.Handler
}

var (
	_ credentialsv1.CredentialsServiceServer = (*server)(nil)
	_ credentialsv1.ClientAuthServiceServer  = (*authServer)(nil)
)

// NewServer adapts the endpoints to CredentialsService.
func NewServer(set endpoints.Set) credentialsv1.CredentialsServiceServer {
	return &server{
		create: kitgrpc.NewServer(set.Create, decodeCreate, encodeIssued,
			kitgrpc.ServerAfter(setHeader(HTTPStatusHeader, "201"))),
		list:   kitgrpc.NewServer(set.List, decodeList, encodeList),
		rotate: kitgrpc.NewServer(set.Rotate, decodeRotate, encodeIssued),
		revoke: kitgrpc.NewServer(set.Revoke, decodeRevoke, encodeCredential),
	}
}

// NewAuthServer adapts the verify endpoint to ClientAuthService.
func NewAuthServer(set endpoints.Set) credentialsv1.ClientAuthServiceServer {
	return &authServer{verify: kitgrpc.NewServer(set.Verify, decodeVerify, encodeVerify)}
}

func (s *server) CreateCredential(ctx context.Context, req *credentialsv1.CreateCredentialRequest) (*credentialsv1.IssuedCredential, error) {
	_, resp, err := s.create.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*credentialsv1.IssuedCredential), nil
}

func (s *server) ListCredentials(ctx context.Context, req *credentialsv1.ListCredentialsRequest) (*credentialsv1.ListCredentialsResponse, error) {
	_, resp, err := s.list.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*credentialsv1.ListCredentialsResponse), nil
}

func (s *server) RotateCredential(ctx context.Context, req *credentialsv1.RotateCredentialRequest) (*credentialsv1.IssuedCredential, error) {
	_, resp, err := s.rotate.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*credentialsv1.IssuedCredential), nil
}

func (s *server) RevokeCredential(ctx context.Context, req *credentialsv1.RevokeCredentialRequest) (*credentialsv1.Credential, error) {
	_, resp, err := s.revoke.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*credentialsv1.Credential), nil
}

func (s *authServer) VerifyClientSecret(ctx context.Context, req *credentialsv1.VerifyClientSecretRequest) (*credentialsv1.VerifyClientSecretResponse, error) {
	_, resp, err := s.verify.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*credentialsv1.VerifyClientSecretResponse), nil
}

func decodeCreate(_ context.Context, req any) (any, error) {
	r := req.(*credentialsv1.CreateCredentialRequest)
	return endpoints.CreateRequest{AgentID: r.GetAgentId(), TTLSeconds: r.GetTtlSeconds()}, nil
}

func decodeList(_ context.Context, req any) (any, error) {
	r := req.(*credentialsv1.ListCredentialsRequest)
	pageSize := credential.DefaultPageSize
	if r.PageSize != nil {
		pageSize = int(r.GetPageSize())
	}
	return credential.ListQuery{AgentID: r.GetAgentId(), PageSize: pageSize, PageToken: r.GetPageToken()}, nil
}

func decodeRotate(_ context.Context, req any) (any, error) {
	r := req.(*credentialsv1.RotateCredentialRequest)
	return endpoints.RotateRequest{AgentID: r.GetAgentId(), CredentialID: r.GetCredentialId(), GraceSeconds: r.GetGracePeriodSeconds()}, nil
}

func decodeRevoke(_ context.Context, req any) (any, error) {
	r := req.(*credentialsv1.RevokeCredentialRequest)
	return endpoints.RevokeRequest{AgentID: r.GetAgentId(), CredentialID: r.GetCredentialId()}, nil
}

func decodeVerify(_ context.Context, req any) (any, error) {
	r := req.(*credentialsv1.VerifyClientSecretRequest)
	return endpoints.VerifyRequest{ClientID: r.GetClientId(), ClientSecret: r.GetClientSecret()}, nil
}

// setHeader adds response header metadata. (go-kit's SetResponseHeader
// writes into a nil map when no header was set before.)
func setHeader(key, value string) kitgrpc.ServerResponseFunc {
	return func(ctx context.Context, header *metadata.MD, _ *metadata.MD) context.Context {
		if *header == nil {
			*header = metadata.MD{}
		}
		header.Set(key, value)
		return ctx
	}
}
