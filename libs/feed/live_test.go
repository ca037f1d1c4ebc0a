package feed_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// credFeed is a CredentialEventsService serving sequences 1..n the way the
// credentials service does (head header, then the backlog, then new events
// as they come), with knobs to hold a replay back, break streams and
// refuse them.
type credFeed struct {
	credentialsv1.UnimplementedCredentialEventsServiceServer

	mu     sync.Mutex
	n      int64
	noHead bool          // behave like a server that predates feed.HeadHeader
	hold   chan struct{} // if set, streams wait for it after the header
	breaks int64         // if > 0, a stream breaks after sending this many events
	refuse bool
	cut    chan struct{} // closed to break every open stream
	wake   chan struct{} // closed when events are added
	asked  []int64
}

func newCredFeed(n int64) *credFeed {
	return &credFeed{n: n, cut: make(chan struct{}), wake: make(chan struct{})}
}

func (f *credFeed) WatchCredentialEvents(req *credentialsv1.WatchCredentialEventsRequest, s credentialsv1.CredentialEventsService_WatchCredentialEventsServer) error {
	f.mu.Lock()
	f.asked = append(f.asked, req.GetAfterSequence())
	head, noHead, hold, breaks, refuse, cut := f.n, f.noHead, f.hold, f.breaks, f.refuse, f.cut
	f.mu.Unlock()
	if refuse {
		return status.Error(codes.Unavailable, "refused")
	}
	if !noHead {
		if err := feed.SendHead(s, head); err != nil {
			return err
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-cut:
			return status.Error(codes.Unavailable, "cut")
		case <-s.Context().Done():
			return nil
		}
	}
	next, sent := req.GetAfterSequence()+1, int64(0)
	for {
		f.mu.Lock()
		n, wake := f.n, f.wake
		f.mu.Unlock()
		for ; next <= n; next++ {
			if breaks > 0 && sent == breaks {
				return status.Error(codes.Unavailable, "stream broken")
			}
			if err := s.Send(&credentialsv1.WatchCredentialEventsResponse{Event: &credentialsv1.CredentialEvent{
				Sequence: next, Type: feed.CredentialRevoked, CredentialId: "c", AgentId: "a"}}); err != nil {
				return err
			}
			sent++
		}
		select {
		case <-wake:
		case <-cut:
			return status.Error(codes.Unavailable, "cut")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (f *credFeed) set(change func(f *credFeed)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// add commits events through n.
func (f *credFeed) add(n int64) {
	f.set(func(f *credFeed) {
		f.n = n
		close(f.wake)
		f.wake = make(chan struct{})
	})
}

// breakStreams ends every open stream with UNAVAILABLE.
func (f *credFeed) breakStreams() {
	f.set(func(f *credFeed) {
		close(f.cut)
		f.cut = make(chan struct{})
	})
}

func (f *credFeed) streams() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

// dial serves f over an in-process gRPC connection.
func dial(t *testing.T, f *credFeed) credentialsv1.CredentialEventsServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	credentialsv1.RegisterCredentialEventsServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return credentialsv1.NewCredentialEventsServiceClient(conn)
}

// follower follows f; handled records every sequence its handler saw and
// whether the follower called itself live while handling it.
type follower struct {
	*feed.Follower[*credentialsv1.CredentialEvent]
	mu      sync.Mutex
	handled []int64
	liveAt  map[int64]bool
	lives   atomic.Int32
	block   chan struct{} // if set, the handler waits for it
	failAt  atomic.Int64  // the handler fails once at this sequence
}

func follow(t *testing.T, client credentialsv1.CredentialEventsServiceClient, cursor feed.Cursor, settle time.Duration) *follower {
	t.Helper()
	fl := &follower{liveAt: map[int64]bool{}}
	fl.Follower = feed.New(feed.CredentialEvents(client), cursor, feed.Config{
		Name: "credentials", Settle: settle, Logger: slog.New(slog.DiscardHandler),
		OnLive: func() { fl.lives.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fl.Run(ctx, feed.Each(fl.handle))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return fl
}

func (fl *follower) handle(_ context.Context, e *credentialsv1.CredentialEvent) error {
	fl.mu.Lock()
	block := fl.block
	fl.mu.Unlock()
	if block != nil {
		<-block
	}
	if e.GetSequence() == fl.failAt.Load() {
		fl.failAt.Store(0)
		return errors.New("storage hiccup")
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.handled = append(fl.handled, e.GetSequence())
	fl.liveAt[e.GetSequence()] = fl.Live()
	return nil
}

func (fl *follower) last() int64 {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.handled) == 0 {
		return 0
	}
	return fl.handled[len(fl.handled)-1]
}

// wasLiveWhileHandling reports whether the follower called itself live
// while any event in [from, to] was being handled.
func (fl *follower) wasLiveWhileHandling(from, to int64) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	for s := from; s <= to; s++ {
		if fl.liveAt[s] {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// never fails if cond holds at any time during d.
func never(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			t.Fatal(what)
		}
	}
}

// The server announces its head: the follower is live once it has handled
// every event up to it, not when the stream opens.
func TestLiveOnceCaughtUpWithTheHead(t *testing.T) {
	srv := newCredFeed(50)
	srv.hold = make(chan struct{})
	fl := follow(t, dial(t, srv), &feed.MemoryCursor{}, time.Hour)

	eventually(t, "a stream", func() bool { return len(srv.streams()) == 1 })
	never(t, "live with the replay held back", 200*time.Millisecond, fl.Live)
	if fl.EverLive() || fl.DownFor() <= 0 {
		t.Fatalf("before catching up: ever live %v, down for %s", fl.EverLive(), fl.DownFor())
	}
	close(srv.hold)
	eventually(t, "live", fl.Live)
	if fl.last() != 50 || fl.wasLiveWhileHandling(1, 50) {
		t.Fatalf("live after handling through %d (live while handling the backlog: %v)", fl.last(), fl.wasLiveWhileHandling(1, 50))
	}
	if !fl.EverLive() || fl.DownFor() != 0 || fl.lives.Load() != 1 {
		t.Fatalf("live: ever live %v, down for %s, OnLive calls %d", fl.EverLive(), fl.DownFor(), fl.lives.Load())
	}
	// New events after the head do not make a live follower unlive.
	srv.add(60)
	eventually(t, "event 60", func() bool { return fl.last() == 60 })
	if !fl.Live() || !fl.wasLiveWhileHandling(51, 60) {
		t.Fatal("not live while following new events")
	}
}

// A stream that opens with nothing to replay is live at once.
func TestLiveAtOnceWithNothingToReplay(t *testing.T) {
	srv := newCredFeed(7)
	cursor := &feed.MemoryCursor{}
	_ = cursor.Save(context.Background(), 7)
	fl := follow(t, dial(t, srv), cursor, time.Hour)
	eventually(t, "live", fl.Live)
	if fl.last() != 0 {
		t.Fatalf("handled %d", fl.last())
	}
}

// A stream that fails mid-replay never made the follower live; the next
// one resumes from the cursor, and only reaching the head makes it live.
// A failing handler does the same.
func TestFailureMidReplay(t *testing.T) {
	srv := newCredFeed(40)
	srv.breaks = 15
	fl := follow(t, dial(t, srv), &feed.MemoryCursor{}, time.Hour)
	fl.failAt.Store(35)
	eventually(t, "live", fl.Live)
	if got := fl.last(); got != 40 {
		t.Fatalf("live after handling through %d", got)
	}
	if fl.wasLiveWhileHandling(1, 40) {
		t.Fatal("live before reaching the head")
	}
	if fl.failAt.Load() != 0 {
		t.Fatal("the handler never failed")
	}
	fl.mu.Lock()
	handled := slices.Clone(fl.handled)
	fl.mu.Unlock()
	// At least once, in order: a failed batch comes again from the cursor.
	seen := int64(0)
	for _, s := range handled {
		if s > seen+1 {
			t.Fatalf("handled %v: sequence %d skipped", handled, seen+1)
		}
		seen = max(seen, s)
	}
	if asked := srv.streams(); len(asked) < 4 || asked[0] != 0 || !slices.IsSorted(asked) {
		t.Fatalf("streams asked from %v: want three broken streams, a failed batch, each resuming from the cursor", asked)
	}
}

// Any stream failure ends liveness at once, even while a batch is being
// handled; after reconnecting, the follower is live again only once the
// events missed meanwhile are handled.
func TestReconnect(t *testing.T) {
	srv := newCredFeed(5)
	fl := follow(t, dial(t, srv), &feed.MemoryCursor{}, time.Hour)
	eventually(t, "live", fl.Live)

	// A batch is being handled when the stream breaks.
	block := make(chan struct{})
	fl.mu.Lock()
	fl.block = block
	fl.mu.Unlock()
	srv.add(6)
	time.Sleep(50 * time.Millisecond) // event 6 reaches the blocked handler
	srv.set(func(f *credFeed) { f.refuse = true })
	srv.breakStreams()
	eventually(t, "not live", func() bool { return !fl.Live() })
	if fl.last() != 5 {
		t.Fatalf("the handler finished early: %d", fl.last())
	}
	fl.mu.Lock()
	fl.block = nil
	fl.mu.Unlock()
	close(block)
	if !fl.EverLive() {
		t.Fatal("EverLive forgot")
	}
	time.Sleep(100 * time.Millisecond)
	if fl.Live() || fl.DownFor() < 100*time.Millisecond {
		t.Fatalf("while the server refuses: live %v, down for %s", fl.Live(), fl.DownFor())
	}

	// Back, with events missed meanwhile and a slow replay.
	srv.add(20)
	hold := make(chan struct{})
	srv.set(func(f *credFeed) { f.refuse, f.hold = false, hold })
	n := len(srv.streams())
	eventually(t, "a new stream", func() bool { return len(srv.streams()) > n })
	never(t, "live before the missed events were handled", 200*time.Millisecond, fl.Live)
	close(hold)
	eventually(t, "live again", fl.Live)
	if fl.last() != 20 || fl.wasLiveWhileHandling(7, 20) || fl.lives.Load() != 2 {
		t.Fatalf("live again at %d; OnLive calls %d", fl.last(), fl.lives.Load())
	}
}

// A server that sends no head: the stream counts as caught up once it has
// been quiet for the settle time, and a stream that fails never does.
func TestNoHeadSettles(t *testing.T) {
	srv := newCredFeed(10)
	srv.noHead = true
	const settle = 300 * time.Millisecond
	fl := follow(t, dial(t, srv), &feed.MemoryCursor{}, settle)
	eventually(t, "the backlog", func() bool { return fl.last() == 10 })
	handledAt := time.Now()
	eventually(t, "live", fl.Live)
	if d := time.Since(handledAt); d < settle/2 {
		t.Fatalf("live %s after the backlog: did not settle", d)
	}
	if fl.wasLiveWhileHandling(1, 10) {
		t.Fatal("live while replaying")
	}

	// A stream that breaks before settling is never live.
	srv.set(func(f *credFeed) { f.breaks = 1 })
	srv.breakStreams()
	srv.add(1000) // every new stream sends one event, then breaks
	eventually(t, "not live", func() bool { return !fl.Live() })
	never(t, "a broken stream settled", 3*settle, fl.Live)
}
