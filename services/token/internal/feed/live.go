package feed

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// A feed is live while its stream is open. Opening a stream does not prove
// the server accepted it (it may answer UNIMPLEMENTED a moment later), so
// a new stream counts as live once the server sent its headers or an
// event, or once it stayed up for the settle time; any receive error ends
// liveness at once.

// liveness is one feed's state on this replica; changes are logged.
type liveness struct {
	name   string
	state  atomic.Bool
	logger *slog.Logger
}

func (l *liveness) Store(live bool) {
	if l.state.Swap(live) != live {
		l.logger.Info("change feed state", "feed", l.name, "live", live)
	}
}

func (l *liveness) Load() bool { return l.state.Load() }

type agentClient struct {
	registryv1.AgentEventsServiceClient
	live   *liveness
	settle time.Duration
}

func (c *agentClient) WatchAgentEvents(ctx context.Context, in *registryv1.WatchAgentEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[registryv1.WatchAgentEventsResponse], error) {
	s, err := c.AgentEventsServiceClient.WatchAgentEvents(ctx, in, opts...)
	if err != nil {
		c.live.Store(false)
		return nil, err
	}
	return watch(ctx, s, c.live, c.settle), nil
}

type credentialClient struct {
	credentialsv1.CredentialEventsServiceClient
	live   *liveness
	settle time.Duration
}

func (c *credentialClient) WatchCredentialEvents(ctx context.Context, in *credentialsv1.WatchCredentialEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[credentialsv1.WatchCredentialEventsResponse], error) {
	s, err := c.CredentialEventsServiceClient.WatchCredentialEvents(ctx, in, opts...)
	if err != nil {
		c.live.Store(false)
		return nil, err
	}
	return watch(ctx, s, c.live, c.settle), nil
}

type watched[T any] struct {
	grpc.ServerStreamingClient[T]
	live *liveness

	mu   sync.Mutex
	down bool
}

func watch[T any](ctx context.Context, s grpc.ServerStreamingClient[T], live *liveness, settle time.Duration) *watched[T] {
	w := &watched[T]{ServerStreamingClient: s, live: live}
	go func() {
		if h, err := s.Header(); err == nil && h != nil {
			w.up()
		}
	}()
	go func() {
		t := time.NewTimer(settle)
		defer t.Stop()
		select {
		case <-t.C:
			w.up()
			<-ctx.Done()
		case <-ctx.Done():
		}
		// The follower cancels the stream's context whenever it gives the
		// stream up (including when handling an event failed).
		w.fail()
	}()
	return w
}

func (w *watched[T]) up() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.down {
		w.live.Store(true)
	}
}

func (w *watched[T]) fail() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down = true
	w.live.Store(false)
}

func (w *watched[T]) Recv() (*T, error) {
	m, err := w.ServerStreamingClient.Recv()
	if err != nil {
		w.fail()
		return nil, err
	}
	w.up()
	return m, nil
}
