package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// from returns a copy of s whose requests leave from the local address ip:
// on loopback any 127.0.0.0/8 address is a distinct client to Envoy.
func (s *stack) from(ip string) *stack {
	c := *s
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	return &c
}

// writeLimited writes a config with the token service at token and
// rateLimits.oauth set to limit (YAML flow mapping, "" for none).
func (s *stack) writeLimited(token, limit string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listener: {address: 127.0.0.1, port: %d}\nservices:\n", s.listenPort)
	fmt.Fprintf(&b, "  token: {endpoints: [%q]}\n  authz: {endpoints: [%q]}\n", token, s.authz.Addr())
	if limit != "" {
		fmt.Fprintf(&b, "rateLimits: {oauth: %s}\n", limit)
	}
	if err := writeFile(s.configPath, b.String()); err != nil {
		s.t.Fatal(err)
	}
}

// TestGatewayPerSourceLimit: Envoy caps each client address on /oauth2/*
// before the token service sees the request: past the burst a source gets
// 429 in RFC 6749's shape with Retry-After and no-store, another source is
// untouched, /.well-known/ is not limited, the bucket refills, and the
// limit follows the config file live (0 turns it off).
func TestGatewayPerSourceLimit(t *testing.T) {
	testkit.SkipIfShort(t)
	reg := &fakeRegistry{name: "r"}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	tok := startFakeToken(t, "a")
	s := startStack(t, reg.Addr())
	s.writeLimited(tok.Addr(), "{perSecond: 2, burst: 6}")
	hammer := s.from("127.0.0.2")
	token := func(s *stack) response {
		return s.do("POST", "/oauth2/token", "grant_type=client_credentials", "Authorization", "Basic eDp5")
	}
	eventually(t, 10*time.Second, func() error {
		if r := token(s); r.status != 200 {
			return fmt.Errorf("POST /oauth2/token = %d: %s", r.status, r.body)
		}
		return nil
	})

	calls0 := tok.calls.Load()
	counts := map[int]int{}
	var limited response
	for i := 0; i < 20; i++ {
		r := token(hammer)
		counts[r.status]++
		if r.status == 429 {
			limited = r
		}
	}
	// 6 at once, and maybe 2 more if a second turned meanwhile.
	if counts[200] < 6 || counts[200] > 8 || counts[429] != 20-counts[200] {
		t.Fatalf("20 requests from one address: %v", counts)
	}
	if got := tok.calls.Load() - calls0; got != int64(counts[200]) {
		t.Fatalf("the token service saw %d requests, %d were admitted", got, counts[200])
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(limited.body), &body); err != nil || len(body) != 2 ||
		body["error"] != "temporarily_unavailable" || !strings.Contains(body["error_description"], "too many requests") {
		t.Fatalf("429 body %q", limited.body)
	}
	if ra := limited.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q", ra)
	}
	if limited.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(limited.header.Get("Content-Type"), "application/json") {
		t.Errorf("429 headers %v", limited.header)
	}
	// Another address has its own bucket; discovery is not limited.
	if r := token(s); r.status != 200 {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	if r := hammer.do("GET", "/.well-known/jwks.json", ""); r.status != 200 {
		t.Fatalf("JWKS from the limited address: %d %s", r.status, r.body)
	}
	// The bucket refills.
	eventually(t, 3*time.Second, func() error {
		if r := token(hammer); r.status != 200 {
			return fmt.Errorf("after a pause: %d", r.status)
		}
		return nil
	})
	if v := s.envoyStat("per_source.http_local_rate_limit.rate_limited"); v == "" || v == "0" {
		t.Errorf("rate_limited stat %q", v)
	}

	// perSecond 0 switches it off, live.
	s.writeLimited(tok.Addr(), "{perSecond: 0}")
	eventually(t, 10*time.Second, func() error {
		for i := 0; i < 20; i++ {
			if r := token(hammer); r.status != 200 {
				return fmt.Errorf("request %d with the limit off: %d", i, r.status)
			}
		}
		return nil
	})
}
