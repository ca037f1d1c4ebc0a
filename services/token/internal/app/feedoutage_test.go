package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// TestRevokedWhileCutOff: a credential revoked while the token service
// cannot see the credentials service never yields a token again — not
// during the outage, not while the token service replays what it missed,
// not after. The token service holds a cached login for the secret when it
// is cut off; a client asks for tokens with it all along.
//
// The replay after the reconnection is held back for a while after the
// stream's header (as a long backlog on a slow link would be), and the token
// service reopens its feed before it verifies anyone again (the worst
// order of a real race): a follower that counted as live once the header
// arrived would serve the cached login, whose invalidating event has not
// been applied yet, in that window.
func TestRevokedWhileCutOff(t *testing.T) {
	p := startPlatform(t)
	g := startGate(t, p.credsAddr)
	const staleFor = time.Second
	srv := startToken(t, p.env("CREDENTIALS_ADDR="+g.addr, "CACHE_STALE_IF_ERROR="+staleFor.String(), "CREDENTIALS_TIMEOUT=500ms"))
	c := p.credential(p.agent("agents:read"), 0)
	warm(t, srv, c)
	liveGauge := func() float64 { return srv.metric("agentidp_token_feed_live", "feed", "credentials") }
	if liveGauge() != 1 {
		t.Fatal("credentials feed not live before the outage")
	}

	poll := startPolling(srv, c)
	time.Sleep(200 * time.Millisecond)
	cutAt := time.Now()
	g.cut()
	eventually(t, 5*time.Second, func() error {
		if liveGauge() != 0 {
			return errorf("the credentials feed is still live after the cut")
		}
		return nil
	})
	// Past the stale window the cached login no longer serves an outage
	// (the credentials service may be up for others, as it is here).
	time.Sleep(staleFor + 500*time.Millisecond)
	p.revokeCredential(c)
	revokedAt := time.Now()
	time.Sleep(500 * time.Millisecond)

	const hold = 2 * time.Second
	g.restore(hold)
	eventually(t, 20*time.Second, func() error {
		if liveGauge() != 1 {
			return errorf("the credentials feed is not live again")
		}
		return nil
	})
	liveAt := time.Now()
	eventually(t, 15*time.Second, func() error {
		if r := srv.token(c, ""); r.status != http.StatusUnauthorized {
			return errorf("after the outage: %s", r)
		}
		return nil
	})
	time.Sleep(time.Second)
	polls := poll.stop()

	headerAt, releasedAt := g.window()
	var before, inOutage, inReplay, after, staleServed, staleRefused int
	var tokens []time.Duration // after the revocation
	for _, r := range polls {
		switch {
		case r.err != nil:
			t.Fatalf("token request at %s: %v", r.start.Format(time.StampMicro), r.err)
		case r.start.After(revokedAt) && r.status == http.StatusOK:
			tokens = append(tokens, r.start.Sub(revokedAt))
		}
		switch {
		case r.start.Before(cutAt):
			before++
			if r.status != http.StatusOK {
				t.Errorf("before the outage: %d %s", r.status, r.body)
			}
		case r.start.Before(headerAt):
			inOutage++
			// Outage tolerance stays: the cached login serves for a while,
			// then no longer (the stale bound).
			switch {
			case r.start.Before(cutAt.Add(staleFor/2)) && r.status == http.StatusOK:
				staleServed++
			case r.start.After(cutAt.Add(staleFor+200*time.Millisecond)) && r.start.Before(revokedAt) && r.status == http.StatusServiceUnavailable:
				staleRefused++
			}
		case r.start.Before(releasedAt):
			inReplay++
		case r.start.After(liveAt):
			after++
		}
	}
	t.Logf("%d token requests: %d before the outage, %d during it, %d while the replay was held back, %d after the feed was live again",
		len(polls), before, inOutage, inReplay, after)
	if len(tokens) > 0 {
		t.Errorf("the revoked secret got %d tokens, from requests made %s..%s after the revocation "+
			"(the feed's header came +%s, its replay +%s, live +%s)", len(tokens), tokens[0], tokens[len(tokens)-1],
			headerAt.Sub(revokedAt), releasedAt.Sub(revokedAt), liveAt.Sub(revokedAt))
	}
	if staleServed == 0 || staleRefused == 0 {
		t.Errorf("during the outage the cached login served %d times in the stale window, was refused %d times after it", staleServed, staleRefused)
	}
	if before == 0 || inReplay < 10 || after == 0 {
		t.Fatal("the client did not ask all along: the test proves nothing")
	}
	if releasedAt.Sub(headerAt) < hold || liveAt.Before(releasedAt) {
		t.Fatalf("the feed was live at +%s, its replay released at +%s after its header", liveAt.Sub(headerAt), releasedAt.Sub(headerAt))
	}
}

// poller asks for tokens with one client until stopped.
type poller struct {
	stopc chan struct{}
	done  chan []pollResult
}

type pollResult struct {
	start  time.Time
	status int
	body   string
	err    error
}

func startPolling(srv *tokenServer, c client) *poller {
	p := &poller{stopc: make(chan struct{}), done: make(chan []pollResult, 1)}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}}.Encode()
	go func() {
		var out []pollResult
		for {
			select {
			case <-p.stopc:
				p.done <- out
				return
			default:
			}
			r := pollResult{start: time.Now()}
			resp, err := srv.http.Post(srv.base+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				r.err = err
			} else {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				r.status, r.body, r.err = resp.StatusCode, string(b), err
			}
			out = append(out, r)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return p
}

func (p *poller) stop() []pollResult {
	close(p.stopc)
	return <-p.done
}

// gate stands between the token service and the credentials service, as a
// network would: it forwards client authentication and the change feed,
// and can cut both off. When it lets them through again, the feed comes
// first, with its replay held back after the stream's header; client
// authentication follows once the token service has reopened the feed.
type gate struct {
	credentialsv1.UnimplementedClientAuthServiceServer
	credentialsv1.UnimplementedCredentialEventsServiceServer
	addr   string
	auth   credentialsv1.ClientAuthServiceClient
	events credentialsv1.CredentialEventsServiceClient

	mu         sync.Mutex
	feedCut    bool
	authCut    bool
	cutoff     chan struct{} // closed by cut: ends the streams in flight
	hold       time.Duration // for the next stream
	headerAt   time.Time
	releasedAt time.Time
}

var errCutOff = status.Error(codes.Unavailable, "cut off")

func startGate(t *testing.T, upstream string) *gate {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{addr: lis.Addr().String(), cutoff: make(chan struct{}),
		auth: credentialsv1.NewClientAuthServiceClient(conn), events: credentialsv1.NewCredentialEventsServiceClient(conn)}
	srv := grpc.NewServer()
	credentialsv1.RegisterClientAuthServiceServer(srv, g)
	credentialsv1.RegisterCredentialEventsServiceServer(srv, g)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		conn.Close()
	})
	return g
}

// cut fails every call and ends the feed's streams.
func (g *gate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.feedCut, g.authCut = true, true
	close(g.cutoff)
	g.cutoff = make(chan struct{})
}

// restore lets the feed through again, holding the next stream's replay
// back for hold after its header.
func (g *gate) restore(hold time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.feedCut, g.hold = false, hold
}

// window is when the held stream's header went through and when its
// replay was released.
func (g *gate) window() (headerAt, releasedAt time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.headerAt, g.releasedAt
}

func (g *gate) VerifyClientSecret(ctx context.Context, req *credentialsv1.VerifyClientSecretRequest) (*credentialsv1.VerifyClientSecretResponse, error) {
	g.mu.Lock()
	cut := g.authCut
	g.mu.Unlock()
	if cut {
		return nil, errCutOff
	}
	return g.auth.VerifyClientSecret(ctx, req)
}

func (g *gate) WatchCredentialEvents(req *credentialsv1.WatchCredentialEventsRequest, down credentialsv1.CredentialEventsService_WatchCredentialEventsServer) error {
	g.mu.Lock()
	cut, cutoff, hold := g.feedCut, g.cutoff, g.hold
	g.hold = 0
	g.mu.Unlock()
	if cut {
		return errCutOff
	}
	ctx, cancel := context.WithCancel(down.Context())
	defer cancel()
	go func() {
		select {
		case <-cutoff:
			cancel()
		case <-ctx.Done():
		}
	}()
	up, err := g.events.WatchCredentialEvents(ctx, req)
	if err != nil {
		return err
	}
	md, err := up.Header()
	if err != nil {
		return err
	}
	if head, ok := feed.HeadOf(md); ok {
		if err := feed.SendHead(down, head); err != nil {
			return err
		}
	}
	if hold > 0 {
		g.mu.Lock()
		g.headerAt, g.authCut = time.Now(), false
		g.mu.Unlock()
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return errCutOff
		}
		g.mu.Lock()
		g.releasedAt = time.Now()
		g.mu.Unlock()
	}
	for {
		resp, err := up.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return errCutOff
			}
			return err
		}
		if err := down.Send(resp); err != nil {
			return err
		}
	}
}
