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

// TestLookupRateLimit: the client's bucket is charged only when the
// entry exists (a cached MAC proves the secret): anyone may name a client,
// only its holder spends its budget.
func TestLookupRateLimit(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	rate := &authcache.Rate{PerSecond: 1, Burst: 3}
	for _, id := range []string{"c1", "c2"} {
		if err := s.PutEntry(ctx, id, "m", authcache.Entry{CredentialID: "x", VerifiedAt: time.Now()}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Another MAC (a wrong secret) is never charged and never limited.
	for i := 0; i < 10; i++ {
		f, err := s.Lookup(ctx, authcache.Lookup{ClientID: "c1", MAC: "guess", Rate: rate, Reserve: 1})
		if err != nil || !f.Allowed || f.Granted != 0 || f.Entry != nil {
			t.Fatalf("guess %d: %+v %v", i, f, err)
		}
	}
	q := authcache.Lookup{ClientID: "c1", MAC: "m", Rate: rate, Reserve: 1}
	for i := 0; i < 3; i++ {
		f, err := s.Lookup(ctx, q)
		if err != nil || !f.Allowed || f.Granted != 1 || f.Entry == nil {
			t.Fatalf("request %d: %+v %v", i, f, err)
		}
	}
	f, err := s.Lookup(ctx, q)
	if err != nil || f.Allowed || f.Limited != authcache.BucketClient || f.RetryAfter < 900*time.Millisecond || f.RetryAfter > time.Second {
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

// TestPutEntryCharged: a verification the credentials service just proved
// is cached and charged to the client's bucket in one call.
func TestPutEntryCharged(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	rate := &authcache.Rate{PerSecond: 1, Burst: 2}
	e := authcache.Entry{CredentialID: "cred", VerifiedAt: time.Now(), AgentStatus: "active"}
	for i, want := range []int{2, 0} {
		granted, wait, err := s.PutEntryCharged(ctx, "c", "m", e, time.Minute, rate, 4)
		if err != nil || granted != want || (want == 0) != (wait > 0) {
			t.Fatalf("put %d: granted %d (want %d), wait %v, %v", i, granted, want, wait, err)
		}
	}
	// The entry was written even when the bucket refused.
	f, err := s.Lookup(ctx, authcache.Lookup{ClientID: "c", MAC: "m"})
	if err != nil || f.Entry == nil || f.Entry.CredentialID != "cred" {
		t.Fatalf("entry %+v %v", f, err)
	}
	if g, _, err := s.PutEntryCharged(ctx, "d", "m", e, time.Minute, nil, 1); err != nil || g != 1 {
		t.Fatalf("without a rate: %d %v", g, err)
	}
}

// TestFailureBuckets: failed authentications are charged to the (client,
// source) pair and to the source, never to the client; an empty bucket
// refuses every request of its pair or source in the lookup itself, and
// the client, from another source, is untouched.
func TestFailureBuckets(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	lim := authcache.Failures{Pair: &authcache.Rate{PerSecond: 1, Burst: 3}, Source: &authcache.Rate{PerSecond: 1, Burst: 5}}
	if err := s.PutEntry(ctx, "victim", "m", authcache.Entry{CredentialID: "x", VerifiedAt: time.Now()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	lookup := func(client, source string) authcache.Found {
		t.Helper()
		f, err := s.Lookup(ctx, authcache.Lookup{ClientID: client, MAC: "m", Failures: &lim, Source: source,
			Rate: &authcache.Rate{PerSecond: 100, Burst: 100}, Reserve: 1})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// Three failures empty the pair bucket (the third reports it).
	for i := 0; i < 3; i++ {
		ch, err := s.ChargeFailure(ctx, "victim", "10.0.0.1", lim, false)
		if err != nil || !ch.Allowed || (i == 2) != (ch.PairWait > 0) || ch.SourceWait != 0 {
			t.Fatalf("failure %d: %+v %v", i, ch, err)
		}
	}
	if f := lookup("victim", "10.0.0.1"); f.Allowed || f.Limited != authcache.BucketClientSource || f.RetryAfter <= 0 || f.RetryAfter > time.Second {
		t.Fatalf("the guesser's own pair, even with the right secret: %+v", f)
	}
	if f := lookup("victim", "10.0.0.2"); !f.Allowed || f.Entry == nil {
		t.Fatalf("the victim from its own address: %+v", f)
	}
	// Not forced: an empty bucket refuses and is not charged.
	ch, err := s.ChargeFailure(ctx, "victim", "10.0.0.1", lim, false)
	if err != nil || ch.Allowed || ch.Limited != authcache.BucketClientSource || ch.RetryAfter <= 0 {
		t.Fatalf("charge to an empty pair: %+v %v", ch, err)
	}
	// Other clients from the guesser's address spend the source bucket.
	ch, err = s.ChargeFailure(ctx, "other", "10.0.0.1", lim, false)
	if err != nil || !ch.Allowed || ch.SourceWait <= 0 {
		t.Fatalf("the source's fifth failure: %+v %v", ch, err)
	}
	if f := lookup("third", "10.0.0.1"); f.Allowed || f.Limited != authcache.BucketSource {
		t.Fatalf("any client from an empty source: %+v", f)
	}
	// Forced (the verification ran): charged into debt, at most one more
	// burst, whatever the concurrency.
	for i := 0; i < 20; i++ {
		if _, err := s.ChargeFailure(ctx, "other", "10.0.0.1", lim, true); err != nil {
			t.Fatal(err)
		}
	}
	ch, _ = s.ChargeFailure(ctx, "other", "10.0.0.1", lim, true)
	if ch.SourceWait < 4*time.Second || ch.SourceWait > 6*time.Second || ch.PairWait < 2*time.Second || ch.PairWait > 4*time.Second {
		t.Fatalf("debt not bounded by one burst: %+v", ch)
	}
}

// TestPipelineReloadsScripts: the pipelined lookup and failure charge
// survive Redis forgetting its scripts (a restart, SCRIPT FLUSH).
func TestPipelineReloadsScripts(t *testing.T) {
	s, rdb := open(t)
	ctx := context.Background()
	lim := authcache.Failures{Pair: &authcache.Rate{PerSecond: 1, Burst: 3}, Source: &authcache.Rate{PerSecond: 1, Burst: 3}}
	for i := 0; i < 2; i++ {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChargeFailure(ctx, "c", "src", lim, true); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if f, err := s.Lookup(ctx, authcache.Lookup{ClientID: "c", MAC: "m", Failures: &lim, Source: "src"}); err != nil || !f.Allowed {
			t.Fatalf("lookup after SCRIPT FLUSH: %+v %v", f, err)
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
