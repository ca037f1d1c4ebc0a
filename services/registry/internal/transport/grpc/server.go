// Package grpc serves the registry's endpoints as
// agentidp.registry.v1.RegistryService (and, through Envoy's transcoder,
// as the REST API under /v1/agents).
package grpc

import (
	"context"
	"strings"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/endpoints"
)

// HTTPStatusHeader is response metadata that the gateway turns into the
// HTTP status code (gRPC itself has no "201 Created").
const HTTPStatusHeader = "x-http-status-code"

type server struct {
	registryv1.UnimplementedRegistryServiceServer
	register, get, list, update, decommission kitgrpc.Handler
}

var _ registryv1.RegistryServiceServer = (*server)(nil)

// NewServer adapts the endpoint set to the generated service interface.
func NewServer(set endpoints.Set) registryv1.RegistryServiceServer {
	return &server{
		register: kitgrpc.NewServer(set.Register, decodeCreate, encodeCreate,
			kitgrpc.ServerAfter(setHeader(HTTPStatusHeader, "201"))),
		get:          kitgrpc.NewServer(set.Get, decodeGet, encodeGet),
		list:         kitgrpc.NewServer(set.List, decodeList, encodeList),
		update:       kitgrpc.NewServer(set.Update, decodeUpdate, encodeUpdate),
		decommission: kitgrpc.NewServer(set.Decommission, decodeDelete, encodeDelete),
	}
}

func (s *server) CreateAgent(ctx context.Context, req *registryv1.CreateAgentRequest) (*registryv1.Agent, error) {
	_, resp, err := s.register.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*registryv1.Agent), nil
}

func (s *server) GetAgent(ctx context.Context, req *registryv1.GetAgentRequest) (*registryv1.Agent, error) {
	_, resp, err := s.get.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*registryv1.Agent), nil
}

func (s *server) ListAgents(ctx context.Context, req *registryv1.ListAgentsRequest) (*registryv1.ListAgentsResponse, error) {
	_, resp, err := s.list.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*registryv1.ListAgentsResponse), nil
}

func (s *server) UpdateAgent(ctx context.Context, req *registryv1.UpdateAgentRequest) (*registryv1.Agent, error) {
	_, resp, err := s.update.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*registryv1.Agent), nil
}

func (s *server) DeleteAgent(ctx context.Context, req *registryv1.DeleteAgentRequest) (*registryv1.Agent, error) {
	_, resp, err := s.decommission.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*registryv1.Agent), nil
}

func decodeCreate(_ context.Context, req any) (any, error) {
	r := req.(*registryv1.CreateAgentRequest)
	return endpoints.RegisterRequest{Fields: fieldsFromProto(r.GetAgent()), RequestID: r.GetRequestId()}, nil
}

func encodeCreate(_ context.Context, resp any) (any, error) {
	return agentToProto(resp.(agent.Agent)), nil
}

func decodeGet(_ context.Context, req any) (any, error) {
	return endpoints.GetRequest{ID: req.(*registryv1.GetAgentRequest).GetAgentId()}, nil
}

func encodeGet(_ context.Context, resp any) (any, error) {
	return agentToProto(resp.(agent.Agent)), nil
}

func decodeList(_ context.Context, req any) (any, error) {
	r := req.(*registryv1.ListAgentsRequest)
	pageSize := agent.DefaultPageSize
	if r.PageSize != nil {
		pageSize = int(r.GetPageSize())
	}
	return agent.ListQuery{
		PageSize:  pageSize,
		PageToken: r.GetPageToken(),
		Filter: agent.Filter{
			Status:    agent.Status(r.GetStatus()),
			Owner:     r.GetOwner(),
			AgentType: r.GetAgentType(),
			Search:    r.GetSearch(),
		},
	}, nil
}

func encodeList(_ context.Context, resp any) (any, error) {
	page := resp.(agent.Page)
	out := &registryv1.ListAgentsResponse{NextPageToken: page.NextPageToken,
		Agents: make([]*registryv1.Agent, len(page.Agents))}
	for i, a := range page.Agents {
		out.Agents[i] = agentToProto(a)
	}
	return out, nil
}

func decodeUpdate(ctx context.Context, req any) (any, error) {
	r := req.(*registryv1.UpdateAgentRequest)
	ifMatch := r.GetAgent().GetEtag()
	if ifMatch == "" {
		ifMatch = ifMatchHeader(ctx)
	}
	return agent.Update{
		ID:      r.GetAgent().GetAgentId(),
		Fields:  fieldsFromProto(r.GetAgent()),
		Paths:   r.GetUpdateMask().GetPaths(),
		IfMatch: ifMatch,
	}, nil
}

func encodeUpdate(_ context.Context, resp any) (any, error) {
	return agentToProto(resp.(agent.Agent)), nil
}

func decodeDelete(ctx context.Context, req any) (any, error) {
	r := req.(*registryv1.DeleteAgentRequest)
	ifMatch := r.GetEtag()
	if ifMatch == "" {
		ifMatch = ifMatchHeader(ctx)
	}
	return endpoints.DecommissionRequest{ID: r.GetAgentId(), IfMatch: ifMatch}, nil
}

func encodeDelete(_ context.Context, resp any) (any, error) {
	return agentToProto(resp.(agent.Agent)), nil
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

// ifMatchHeader reads an HTTP If-Match header that Envoy forwarded as gRPC
// metadata, accepting the quoted and weak forms of an etag.
func ifMatchHeader(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get("if-match")
	if len(v) == 0 {
		return ""
	}
	tag := strings.TrimSpace(v[0])
	tag = strings.TrimPrefix(tag, "W/")
	return strings.Trim(tag, `"`)
}
