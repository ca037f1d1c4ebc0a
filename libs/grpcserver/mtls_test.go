package grpcserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// fakeCredentials answers with the request info the server put in the
// context: who the audit log would name.
type fakeCredentials struct {
	credentialsv1.UnimplementedCredentialsServiceServer
	credentialsv1.UnimplementedClientAuthServiceServer
}

func (fakeCredentials) CreateCredential(ctx context.Context, _ *credentialsv1.CreateCredentialRequest) (*credentialsv1.IssuedCredential, error) {
	info := requestinfo.From(ctx)
	return &credentialsv1.IssuedCredential{ClientId: info.Actor + "|" + info.Owner + "|" + strings.Join(info.Scopes, " ")}, nil
}

func (fakeCredentials) VerifyClientSecret(ctx context.Context, _ *credentialsv1.VerifyClientSecretRequest) (*credentialsv1.VerifyClientSecretResponse, error) {
	return &credentialsv1.VerifyClientSecretResponse{AgentId: requestinfo.From(ctx).Actor}, nil
}

// allow is the credentials service's list, cut down: the gateway manages
// credentials, the token service only verifies secrets.
var allow = mtls.Allow{
	mtls.Gateway: {"/agentidp.credentials.v1.CredentialsService/*"},
	mtls.Token:   {"/agentidp.credentials.v1.ClientAuthService/VerifyClientSecret"},
}

type mesh struct {
	ca   *mtls.CA
	dir  string
	addr string
}

func (m mesh) identity(t *testing.T, name string) *mtls.Source {
	t.Helper()
	files, _, err := m.ca.WriteFiles(m.dir, name, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := mtls.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func startMesh(t *testing.T, reflection bool) mesh {
	t.Helper()
	ca, err := mtls.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m := mesh{ca: ca, dir: t.TempDir()}
	srv, hs := grpcserver.New(grpcserver.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewGRPC(prometheus.NewRegistry()),
		TLS: m.identity(t, mtls.Credentials), Allow: allow, Reflection: reflection,
	})
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	credentialsv1.RegisterCredentialsServiceServer(srv, fakeCredentials{})
	credentialsv1.RegisterClientAuthServiceServer(srv, fakeCredentials{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	m.addr = lis.Addr().String()
	return m
}

func (m mesh) dial(t *testing.T, caller *mtls.Source) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(m.addr, grpcclient.Config{Name: mtls.Credentials, TLS: caller})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func dialRaw(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestMeshAllowList: each caller reaches only the methods its row lists;
// health is open to every mesh certificate.
func TestMeshAllowList(t *testing.T) {
	m := startMesh(t, false)
	ctx := context.Background()
	for _, tt := range []struct {
		caller         string
		create, verify codes.Code
	}{
		{mtls.Gateway, codes.OK, codes.PermissionDenied},
		{mtls.Token, codes.PermissionDenied, codes.OK},
		{mtls.Audit, codes.PermissionDenied, codes.PermissionDenied},
	} {
		conn := m.dial(t, m.identity(t, tt.caller))
		_, err := credentialsv1.NewCredentialsServiceClient(conn).CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: "a"})
		if status.Code(err) != tt.create {
			t.Errorf("%s CreateCredential: %v, want %v", tt.caller, err, tt.create)
		}
		if tt.create == codes.PermissionDenied && !strings.Contains(status.Convert(err).Message(), mtls.ID(tt.caller)) {
			t.Errorf("the refusal does not name the caller: %v", err)
		}
		_, err = credentialsv1.NewClientAuthServiceClient(conn).VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{})
		if status.Code(err) != tt.verify {
			t.Errorf("%s VerifyClientSecret: %v, want %v", tt.caller, err, tt.verify)
		}
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("%s health check: %v", tt.caller, err)
		}
	}
}

// TestMeshRefusesOutsiders: without a mesh certificate nothing is callable,
// not even health: plaintext, TLS without a client certificate, and a
// certificate of another CA all fail the handshake.
func TestMeshRefusesOutsiders(t *testing.T) {
	m := startMesh(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	otherCA, err := mtls.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign := mesh{ca: otherCA, dir: t.TempDir()}.identity(t, mtls.Gateway)
	foreignCert := foreign.ClientTLS("")
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext": insecure.NewCredentials(),
		"no client certificate": credentials.NewTLS(&tls.Config{
			InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}}), //nolint:gosec // an outsider
		// Trusts any server, so that the refusal is the server's.
		"another CA's gateway certificate": credentials.NewTLS(&tls.Config{
			InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}, //nolint:gosec // an outsider
			GetClientCertificate: foreignCert.GetClientCertificate}),
	} {
		conn := dialRaw(t, m.addr, creds)
		_, err := credentialsv1.NewCredentialsServiceClient(conn).CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: "a"})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: CreateCredential %v, want a failed connection (UNAVAILABLE)", name, err)
		}
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: health %v, want a failed connection", name, err)
		}
	}
}

// TestIdentityMetadataOnlyFromTheGateway: x-agent-id and friends name the
// actor when the gateway sends them; from any other mesh caller they are
// ignored (the call is the system's), so a service cannot forge an actor.
func TestIdentityMetadataOnlyFromTheGateway(t *testing.T) {
	m := startMesh(t, false)
	forged := metadata.Pairs(requestinfo.HeaderAgentID, "agent-42", requestinfo.HeaderAgentOwner, "team-a",
		requestinfo.HeaderAgentScopes, "platform:admin", requestinfo.HeaderGateway, "true")
	ctx := metadata.NewOutgoingContext(context.Background(), forged)

	gw := m.dial(t, m.identity(t, mtls.Gateway))
	got, err := credentialsv1.NewCredentialsServiceClient(gw).CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: "a"})
	if err != nil || got.GetClientId() != "agent-42|team-a|platform:admin" {
		t.Fatalf("through the gateway: %v %q", err, got.GetClientId())
	}

	// The token service may call VerifyClientSecret, but not as agent-42.
	tok := m.dial(t, m.identity(t, mtls.Token))
	v, err := credentialsv1.NewClientAuthServiceClient(tok).VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{})
	if err != nil || v.GetAgentId() != requestinfo.System {
		t.Fatalf("the token service's forged actor: %v %q, want %q", err, v.GetAgentId(), requestinfo.System)
	}
}

// TestReflectionOffUnlessAskedFor: without Config.Reflection the
// reflection service is not there.
func TestReflectionOffUnlessAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		m := startMesh(t, on)
		conn := m.dial(t, m.identity(t, mtls.Gateway))
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
		if err == nil {
			// A refused stream shows its status on Recv (Send sees io.EOF).
			_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
			_, err = stream.Recv()
		}
		if on && err != nil {
			t.Errorf("reflection on: %v", err)
		}
		if !on && status.Code(err) != codes.Unimplemented {
			t.Errorf("reflection off: %v, want UNIMPLEMENTED", err)
		}
	}
}
