package credentialevents_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sentryagent/agentidp/libs/credentialevents"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// feed serves events 1..n; each stream ends after perStream events, as a
// server restarting would, so the follower must resume from its cursor.
type feed struct {
	credentialsv1.UnimplementedCredentialEventsServiceServer
	n, perStream int
	mu           sync.Mutex
	asked        []int64 // after_sequence of each stream
}

func (f *feed) WatchCredentialEvents(req *credentialsv1.WatchCredentialEventsRequest, s credentialsv1.CredentialEventsService_WatchCredentialEventsServer) error {
	f.mu.Lock()
	f.asked = append(f.asked, req.GetAfterSequence())
	f.mu.Unlock()
	sent := 0
	// Replays one event the follower already has, as at-least-once allows.
	for seq := max(1, req.GetAfterSequence()); seq <= int64(f.n); seq++ {
		if sent == f.perStream {
			return errors.New("stream cut")
		}
		if err := s.Send(&credentialsv1.WatchCredentialEventsResponse{Event: &credentialsv1.CredentialEvent{
			Sequence: seq, Type: credentialevents.Revoked, CredentialId: "c", AgentId: "a"}}); err != nil {
			return err
		}
		sent++
	}
	<-s.Context().Done()
	return nil
}

type memCursor struct {
	mu  sync.Mutex
	seq int64
}

func (c *memCursor) Load(context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, nil
}
func (c *memCursor) Save(_ context.Context, s int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq = s
	return nil
}

func TestFollowResumesInOrderOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &feed{n: 7, perStream: 3}
	credentialsv1.RegisterCredentialEventsServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cursor := &memCursor{}
	var mu sync.Mutex
	var got []int64
	failedOnce := false
	handle := func(_ context.Context, e *credentialsv1.CredentialEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if e.GetSequence() == 5 && !failedOnce {
			failedOnce = true
			return errors.New("transient") // retried after a backoff
		}
		got = append(got, e.GetSequence())
		if len(got) == 7 {
			cancel()
		}
		return nil
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := credentialevents.Follow(ctx, credentialsv1.NewCredentialEventsServiceClient(conn), cursor, handle, logger); err != nil {
		t.Fatal(err)
	}
	want := []int64{1, 2, 3, 4, 5, 6, 7}
	if len(got) != len(want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("handled %v, want %v", got, want)
		}
	}
	if cursor.seq != 7 {
		t.Fatalf("cursor %d", cursor.seq)
	}
	if f.asked[0] != 0 || len(f.asked) < 3 {
		t.Fatalf("streams asked from %v", f.asked)
	}
}
