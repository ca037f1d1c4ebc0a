package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	store "github.com/sentryagent/agentidp/services/token/internal/store/redis"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func open(t *testing.T) (*store.Store, *goredis.Client) {
	t.Helper()
	rdb, err := redisclient.Open(context.Background(), testkit.NewRedisURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return store.New(rdb), rdb
}

func TestLookupRateLimit(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	rate := &authcache.Rate{PerSecond: 1, Burst: 3}
	q := authcache.Lookup{ClientID: "c1", MAC: "m", Rate: rate, Reserve: 1}
	for i := 0; i < 3; i++ {
		f, err := s.Lookup(ctx, q)
		if err != nil || !f.Allowed || f.Granted != 1 {
			t.Fatalf("request %d: %+v %v", i, f, err)
		}
	}
	f, err := s.Lookup(ctx, q)
	if err != nil || f.Allowed || f.RetryAfter < 900*time.Millisecond || f.RetryAfter > time.Second {
		t.Fatalf("over the limit: %+v %v", f, err)
	}
	// A reservation takes what fits, up to the burst.
	q2 := authcache.Lookup{ClientID: "c2", MAC: "m", Rate: rate, Reserve: 10}
	if f, _ := s.Lookup(ctx, q2); !f.Allowed || f.Granted != 3 {
		t.Fatalf("reservation: %+v", f)
	}
	// No rate: never limited.
	for i := 0; i < 10; i++ {
		if f, _ := s.Lookup(ctx, authcache.Lookup{ClientID: "c1", MAC: "m"}); !f.Allowed {
			t.Fatal("limited without a rate")
		}
	}
}

func TestLookupReadsWhatFollowersWrite(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	e := authcache.Entry{CredentialID: "cred", CredGen: 0, VerifiedAt: time.Now(), AgentStatus: "active", Scopes: []string{"x"}}
	if err := s.PutEntry(ctx, "a1", "mac", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAgent(ctx, "a1", authcache.Agent{Sequence: 5, Status: "suspended"}); err != nil {
		t.Fatal(err)
	}
	// A replayed, older event never undoes a newer one.
	if err := s.PutAgent(ctx, "a1", authcache.Agent{Sequence: 3, Status: "active"}); err != nil {
		t.Fatal(err)
	}
	if err := s.BumpCredGen(ctx, "a1", 9); err != nil {
		t.Fatal(err)
	}
	if err := s.BumpCredGen(ctx, "a1", 7); err != nil {
		t.Fatal(err)
	}
	f, err := s.Lookup(ctx, authcache.Lookup{ClientID: "a1", MAC: "mac"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Entry == nil || f.Entry.CredentialID != "cred" || f.Agent == nil || f.Agent.Status != "suspended" || f.Agent.Sequence != 5 || f.CredGen != 9 {
		t.Fatalf("found %+v (entry %+v, agent %+v)", f, f.Entry, f.Agent)
	}
	if a, ok, err := s.Agent(ctx, "a1"); err != nil || !ok || a.Status != "suspended" {
		t.Fatalf("agent %+v %v %v", a, ok, err)
	}
	if err := s.DropEntry(ctx, "a1", "mac"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Lookup(ctx, authcache.Lookup{ClientID: "a1", MAC: "mac"}); f.Entry != nil {
		t.Fatal("dropped entry still found")
	}
}

// TestCursorNoticesDataLoss: a cursor that vanishes from Redis (restart
// without persistence, flush) makes the follower replay its feed.
func TestCursorNoticesDataLoss(t *testing.T) {
	s, rdb := open(t)
	ctx := context.Background()
	c := s.Cursor("agents")
	if v, err := c.Load(ctx); err != nil || v != 0 {
		t.Fatalf("first load %d %v", v, err)
	}
	for _, seq := range []int64{4, 10, 7} {
		if err := c.Save(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := c.Load(ctx); v != 10 {
		t.Fatalf("cursor moved backwards or not at all: %d", v)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, 11); !errors.Is(err, store.ErrProjectionLost) {
		t.Fatalf("save after data loss: %v", err)
	}
	if v, _ := c.Load(ctx); v != 0 {
		t.Fatalf("after data loss the feed must replay from 0, not %d", v)
	}
	if err := c.Save(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestRevocations(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if err := s.RevokeToken(ctx, "j1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "j2", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for jti, want := range map[string]bool{"j1": true, "j2": false, "j3": false} {
		if got, err := s.TokenRevoked(ctx, jti); err != nil || got != want {
			t.Errorf("%s revoked = %v, %v", jti, got, err)
		}
	}
	if err := s.RevokeCredential(ctx, "c1", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.CredentialRevoked(ctx, "c1"); !got {
		t.Fatal("credential revocation not recorded")
	}
}
