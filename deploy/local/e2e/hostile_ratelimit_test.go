package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// TestHostileRateLimits attacks the rate limits through a mesh of its own
// with the token service's default limits (the shared mesh raises them for
// the benchmarks) and a per-address limit at the gateway. On loopback each
// 127.0.0.0/8 address is a distinct client to Envoy, which passes the
// address it saw to the token service (the right-most X-Forwarded-For).
//
//   - a stranger who knows an agent's id sends ~20 bad secrets a second
//     from one address while the agent, from another, keeps getting tokens;
//     the stranger's address is refused even the right secret (no oracle),
//     at introspection and revocation too, and the refusals end once its
//     bucket refills;
//   - random unknown client ids from one address get 429 after the burst;
//   - an address hammering /oauth2/* hits Envoy's own limit: 429 in the
//     OAuth error shape with Retry-After, while other addresses are served.
func TestHostileRateLimits(t *testing.T) {
	skipShort(t)
	dir, err := os.MkdirTemp("", "agentidp-ratelimits-")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Above the attacker's 20/s, within reach of a hammering client.
	gatewayLimit := stack.RateLimit{PerSecond: 50, Burst: 100}
	small, err := stack.Start(ctx, stack.Config{Dir: dir, Ports: ports, TokenReplicas: 2, OAuthRateLimit: &gatewayLimit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		_ = stack.Reset(dir)
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			stack.DumpLogs(dir)
		}
		small.Stop()
		_ = stack.Reset(dir)
	}()
	victim, err := small.BootstrapAdmin(ctx, filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}}
	}
	post := func(c *http.Client, path, form, id, secret string) response {
		t.Helper()
		req, _ := http.NewRequest("POST", small.GatewayURL()+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.Header.Set("Authorization", basicAuth(id, secret))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
	const cc = "grant_type=client_credentials"
	owner := from("127.0.0.1")
	ownerToken := func() response { return post(owner, "/oauth2/token", cc, victim.ClientID, victim.ClientSecret) }
	eventually(t, 10*time.Second, func() error {
		if r := ownerToken(); r.Status != 200 {
			return fmt.Errorf("the right secret: %d %s", r.Status, r.Body)
		}
		return nil
	})
	description := func(t *testing.T, r response) string {
		t.Helper()
		d, _ := r.JSON(t)["error_description"].(string)
		return d
	}

	t.Run("a stranger cannot lock an agent out", func(t *testing.T) {
		attacker := from("127.0.0.2")
		counts := map[int]int{}
		start := time.Now()
		for i := 0; i < 100; i++ { // ~20 a second for 5 s
			r := post(attacker, "/oauth2/token", cc, victim.ClientID, fmt.Sprintf("agentidp_sk_guess%03d", i))
			counts[r.Status]++
			switch r.Status {
			case 401:
				checkOAuthError(t, r, "invalid_client")
			case 429:
				checkOAuthError(t, r, "temporarily_unavailable")
				if !strings.Contains(description(t, r), "failed client authentications") {
					t.Fatalf("429 from another limit than the address's failures: %s", r.Body)
				}
			default:
				t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
			}
			if i%5 == 0 { // the owner asks every 250 ms, within its own limit
				if r := ownerToken(); r.Status != 200 {
					t.Fatalf("the owner during the attack (guess %d): %d %s", i, r.Status, r.Body)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		// 10 at once, then one a second (AUTH_FAILURE_LIMIT_*).
		elapsed := time.Since(start).Seconds()
		if counts[401] < 10 || float64(counts[401]) > 12+elapsed || counts[429] != 100-counts[401] || counts[429] < 50 {
			t.Fatalf("100 guesses in %.1fs from one address: %v", elapsed, counts)
		}
		// No oracle: the attacker's address is refused even the right
		// secret, wherever it presents it.
		if r := post(attacker, "/oauth2/token", cc, victim.ClientID, victim.ClientSecret); r.Status != 429 {
			t.Fatalf("the right secret from the guesser's address: %d %s", r.Status, r.Body)
		}
		for _, path := range []string{"/oauth2/revoke", "/oauth2/introspect"} {
			if r := post(attacker, path, "token=x", victim.ClientID, "agentidp_sk_guess"); r.Status != 429 {
				t.Fatalf("guessing at %s from the guesser's address: %d %s", path, r.Status, r.Body)
			}
		}
		if r := ownerToken(); r.Status != 200 {
			t.Fatalf("the owner after the attack: %d %s", r.Status, r.Body)
		}
		// The refusals end: one failure a second refills.
		eventually(t, 5*time.Second, func() error {
			if r := post(attacker, "/oauth2/token", cc, victim.ClientID, victim.ClientSecret); r.Status != 200 {
				return fmt.Errorf("the right secret from the guesser's address after a pause: %d", r.Status)
			}
			return nil
		})
	})

	t.Run("unknown client ids from one address get 429 after the burst", func(t *testing.T) {
		sprayer := from("127.0.0.3")
		counts := map[int]int{}
		start := time.Now()
		for i := 0; i < 100; i++ {
			r := post(sprayer, "/oauth2/token", cc, uuid.NewString(), "agentidp_sk_guess")
			counts[r.Status]++
			switch r.Status {
			case 401:
				checkOAuthError(t, r, "invalid_client")
			case 429:
				checkOAuthError(t, r, "temporarily_unavailable")
			default:
				t.Fatalf("unknown id %d: %d %s", i, r.Status, r.Body)
			}
		}
		// 50 at once (SOURCE_AUTH_FAILURE_LIMIT_*), then 5 a second.
		elapsed := time.Since(start).Seconds()
		if counts[401] < 50 || float64(counts[401]) > 52+5*elapsed || counts[429] != 100-counts[401] || counts[429] == 0 {
			t.Fatalf("100 unknown ids in %.1fs from one address: %v", elapsed, counts)
		}
		if r := ownerToken(); r.Status != 200 {
			t.Fatalf("the owner during the spray: %d %s", r.Status, r.Body)
		}
	})

	t.Run("an address hammering /oauth2/ hits the gateway's limit", func(t *testing.T) {
		hammer := from("127.0.0.4")
		var mu sync.Mutex
		counts := map[int]int{}
		var limited response
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					// No client authentication: the token service refuses
					// it (401) before any bucket, so a 429 is the gateway's.
					r := post(hammer, "/oauth2/token", cc, "", "")
					mu.Lock()
					counts[r.Status]++
					if r.Status == 429 {
						limited = r
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		admitted := counts[401]
		if counts[429] == 0 || admitted+counts[429] != 320 ||
			float64(admitted) > float64(gatewayLimit.Burst)+float64(gatewayLimit.PerSecond)*(elapsed+1) {
			t.Fatalf("320 requests in %.1fs from one address: %v", elapsed, counts)
		}
		checkOAuthError(t, limited, "temporarily_unavailable")
		if !strings.Contains(description(t, limited), "too many requests from this address") ||
			limited.Header.Get("Retry-After") == "" || limited.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("the gateway's 429: %s %v", limited.Body, limited.Header)
		}
		if r := ownerToken(); r.Status != 200 {
			t.Fatalf("another address while one is limited: %d %s", r.Status, r.Body)
		}
	})

	resp, err := http.Get(small.GatewayURL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz after the attacks: %d", resp.StatusCode)
	}
}
