package app_test

import (
	"net/http"
	"testing"
	"time"
)

// TestCredentialsDown: with the credentials service killed, clients whose
// authentication is cached keep getting tokens (within the stale bound),
// others get a clean 503 temporarily_unavailable at once, and the breaker's
// state is a metric. When it comes back, everyone is served again.
func TestCredentialsDown(t *testing.T) {
	p := startPlatform(t)
	srv := startToken(t, p.env("CREDENTIALS_TIMEOUT=500ms"))
	warmClient := p.credential(p.agent("agents:read"), 0)
	cold := p.credential(p.agent("agents:read"), 0)
	warm(t, srv, warmClient)
	if got := srv.metric("agentidp_grpc_client_breaker_state", "dependency", "credentials"); got != 0 {
		t.Fatalf("breaker state %v before the outage", got)
	}

	p.creds.Kill()
	for i := 0; i < 20; i++ {
		start := time.Now()
		if r := srv.token(warmClient, ""); r.status != http.StatusOK {
			t.Fatalf("warm client during the outage (request %d): %s", i, r)
		}
		if d := time.Since(start); d > 600*time.Millisecond {
			t.Fatalf("warm client waited %s", d)
		}
	}
	for i := 0; i < 10; i++ {
		start := time.Now()
		r := srv.token(cold, "")
		if r.status != http.StatusServiceUnavailable || r.json(t)["error"] != "temporarily_unavailable" {
			t.Fatalf("cold client during the outage: %s", r)
		}
		if d := time.Since(start); d > 600*time.Millisecond {
			t.Fatalf("cold client waited %s for its 503", d)
		}
	}
	if got := srv.metric("agentidp_grpc_client_breaker_state", "dependency", "credentials"); got != 2 {
		t.Fatalf("breaker state %v during the outage, want 2 (open)", got)
	}
	// The first request may still be a cache hit: the feed's stream breaks
	// a moment after the process dies.
	stale, hits := srv.metric("agentidp_token_client_auth_total", "result", "stale"), srv.metric("agentidp_token_client_auth_total", "result", "cache_hit")
	if stale < 18 || stale+hits < 20 {
		t.Fatalf("stale answers %v, cache hits %v", stale, hits)
	}
	// Still ready: Envoy must keep sending the warm clients here.
	if r := srv.do("GET", "/readyz", ""); r.status != http.StatusOK {
		t.Fatalf("readyz during the outage: %s", r)
	}

	p.restartCredentials()
	eventually(t, 15*time.Second, func() error {
		if r := srv.token(cold, ""); r.status != http.StatusOK {
			return errorf("cold client after the outage: %s", r)
		}
		return nil
	})
}

// TestStaleBound: during an outage a cached authentication serves only
// until CACHE_TTL + CACHE_STALE_IF_ERROR after it was verified.
func TestStaleBound(t *testing.T) {
	p := startPlatform(t)
	srv := startToken(t, p.env("CACHE_TTL=1s", "CACHE_STALE_IF_ERROR=1s"))
	c := p.credential(p.agent("agents:read"), 0)
	warm(t, srv, c)
	verified := time.Now()
	p.creds.Kill()
	srv.mustToken(c, "")
	time.Sleep(time.Until(verified.Add(2100 * time.Millisecond)))
	if r := srv.token(c, ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("past the stale bound: %s", r)
	}
}
