package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/redisclient"
)

// from returns a copy of s whose requests leave from the local address ip
// (any 127.0.0.0/8 address works on loopback): the token service, with no
// Envoy in front, sees it as the source address.
func (s *tokenServer) from(ip string) *tokenServer {
	c := *s
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8}}
	return &c
}

// TestFailureLimits: failed client authentications are charged to the
// (client, source address) pair and to the source, never to the client,
// so a stranger who knows an agent's id cannot lock it out; unknown client
// ids are remembered (nobody is asked again) and limited per source.
func TestFailureLimits(t *testing.T) {
	p := startPlatform(t)
	srv := startToken(t, p.env("RATE_LIMIT_PER_SECOND=5", "RATE_LIMIT_BURST=10",
		"AUTH_FAILURE_LIMIT_PER_SECOND=1", "AUTH_FAILURE_LIMIT_BURST=5",
		"SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND=2", "SOURCE_AUTH_FAILURE_LIMIT_BURST=12",
		"UNKNOWN_CLIENT_CACHE_TTL=1m"))
	token := func(s *tokenServer, id, secret string, header ...string) response {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		return s.post("/oauth2/token", form, header...)
	}
	verified := func() float64 { return srv.metric("agentidp_token_client_auth_total", "result", "verified") }
	invalid := func() float64 { return srv.metric("agentidp_token_client_auth_total", "result", "invalid") }

	t.Run("a stranger cannot lock an agent out", func(t *testing.T) {
		victim := p.credential(p.agent("agents:read"), 0)
		attacker := srv.from("127.0.0.2") // the victim stays on 127.0.0.1
		counts := map[int]int{}
		start := time.Now()
		for i := 0; i < 60; i++ { // ~20 bad secrets a second for 3 s
			r := token(attacker, victim.id, fmt.Sprintf("agentidp_sk_guess%03d", i))
			counts[r.status]++
			switch r.status {
			case 401:
			case 429:
				if r.json(t)["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
					t.Fatalf("429 without its error or Retry-After: %s %v", r, r.header)
				}
			default:
				t.Fatalf("guess %d: %s", i, r)
			}
			if i%3 == 0 {
				// The victim asks every 150 ms: within its own limit (5/s).
				if r := token(srv, victim.id, victim.secret); r.status != 200 {
					t.Fatalf("the victim during the attack (guess %d): %s", i, r)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		// 5 at once, then one a second.
		elapsed := time.Since(start).Seconds()
		if counts[401] < 5 || float64(counts[401]) > 6+elapsed || counts[429] != 60-counts[401] {
			t.Fatalf("60 guesses in %.1fs from one address: %v", elapsed, counts)
		}
		// No oracle: the guesser's address is refused even the right secret.
		if r := token(attacker, victim.id, victim.secret); r.status != 429 {
			t.Fatalf("the right secret from the guesser's address: %s", r)
		}
		if n := srv.metric("agentidp_token_rate_limited_total", "bucket", "client"); n != 0 {
			t.Fatalf("the victim's own bucket refused %v requests", n)
		}
		if srv.metric("agentidp_token_rate_limited_total", "bucket", "client_source") < 40 {
			t.Fatal("pair refusals not counted")
		}
		// Introspection and revocation authenticate clients too: the
		// guesser's pair is empty there as well.
		for _, path := range []string{"/oauth2/revoke", "/oauth2/introspect"} {
			if r := attacker.post(path, url.Values{"token": {"x"}}, "Authorization", basicAuth(victim)); r.status != 429 {
				t.Fatalf("%s from the guesser's address: %s", path, r)
			}
		}
	})

	t.Run("unknown client ids are limited per source and not looked up again", func(t *testing.T) {
		v0, i0 := verified(), invalid()
		counts := map[int]int{}
		start := time.Now()
		for i := 0; i < 40; i++ {
			r := token(srv, uuid.NewString(), "agentidp_sk_guess", "X-Forwarded-For", "192.0.2.10")
			counts[r.status]++
		}
		// The source bucket: 12 at once, then 2 a second.
		elapsed := time.Since(start).Seconds()
		if counts[401] < 12 || float64(counts[401]) > 13+2*elapsed || counts[429] != 40-counts[401] {
			t.Fatalf("40 unknown ids in %.1fs from one address: %v", elapsed, counts)
		}
		if asked := invalid() - i0; asked != float64(counts[401]) || verified() != v0 {
			t.Fatalf("the credentials service was asked %v times for %d answered guesses", asked, counts[401])
		}
		// Another source is not affected; the same unknown id again is
		// answered from the negative cache, without asking anyone.
		unknown := uuid.NewString()
		before := invalid()
		for i := 0; i < 4; i++ {
			if r := token(srv, unknown, "agentidp_sk_guess", "X-Forwarded-For", "192.0.2.11"); r.status != 401 {
				t.Fatalf("unknown id from a fresh address: %s", r)
			}
		}
		if invalid()-before != 1 || srv.metric("agentidp_token_client_auth_total", "result", "unknown_client") < 3 {
			t.Fatalf("a repeated unknown id was looked up %v times", invalid()-before)
		}
	})

	t.Run("a credential created for an id remembered as unknown is accepted", func(t *testing.T) {
		// The token service's agent projection lags (deleted here): a
		// failure for the id is remembered as unknown.
		created := func() float64 {
			return srv.metric("agentidp_token_feed_events_total", "feed", "credentials", "type", "created")
		}
		agentID := p.agent("agents:read")
		c0 := created()
		first := p.credential(agentID, 0)
		rdb, err := redisclient.Open(context.Background(), p.redisURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		eventually(t, 5*time.Second, func() error {
			if n, err := rdb.Exists(context.Background(), "tok:{"+agentID+"}:agent").Result(); err != nil || n == 0 {
				return fmt.Errorf("the projection has not got the agent yet (%v)", err)
			}
			if created() <= c0 {
				return fmt.Errorf("the credential's created event has not arrived yet")
			}
			return nil
		})
		if err := rdb.Del(context.Background(), "tok:{"+agentID+"}:agent").Err(); err != nil {
			t.Fatal(err)
		}
		src := []string{"X-Forwarded-For", "192.0.2.20"}
		if r := token(srv, agentID, "agentidp_sk_wrong", src...); r.status != 401 {
			t.Fatalf("wrong secret: %s", r)
		}
		before := invalid()
		if r := token(srv, agentID, first.secret, src...); r.status != 401 || invalid() != before {
			t.Fatalf("an id remembered as unknown was looked up: %s", r)
		}
		// A credential created for it reaches the replica on the change
		// feed and the id is forgotten.
		second := p.credential(agentID, 0)
		eventually(t, 5*time.Second, func() error {
			if r := token(srv, agentID, second.secret, src...); r.status != 200 {
				return fmt.Errorf("new credential: %s", r)
			}
			return nil
		})
		if r := token(srv, agentID, first.secret, src...); r.status != 200 {
			t.Fatalf("first credential: %s", r)
		}
	})
}
