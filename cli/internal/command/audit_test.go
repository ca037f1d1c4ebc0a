package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// --follow prints the past events oldest first, then each new event once,
// never an event older than the --limit it started with, and ends with 0
// when interrupted. The server here answers by poll number: what the live
// mesh cannot make deterministic (clie2e follows the real log).
func TestAuditFollow(t *testing.T) {
	now := time.Now().UTC()
	ev := func(id string, ago time.Duration) string {
		return fmt.Sprintf(`{"eventId":%q,"occurredAt":%q,"actor":"a","action":"agent.updated","outcome":"success","sequence":"1"}`,
			id, now.Add(-ago).Format(time.RFC3339Nano))
	}
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth2/token" {
			fmt.Fprint(w, `{"access_token":"h.p.s","token_type":"Bearer","expires_in":900}`)
			return
		}
		// Newest first, as the API answers.
		events := []string{ev("e3", 10*time.Second), ev("e2", 20*time.Second)}
		if polls.Add(1) > 2 {
			events = append([]string{ev("e4", 0)}, events...)
		}
		fmt.Fprintf(w, `{"events":[%s]}`, strings.Join(events, ","))
	}))
	defer srv.Close()
	isolate(t)
	t.Setenv("AGENTIDP_URL", srv.URL)
	t.Setenv("AGENTIDP_CLIENT_ID", "agent-1")
	t.Setenv("AGENTIDP_CLIENT_SECRET", testSecret)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for polls.Load() < 5 {
			time.Sleep(20 * time.Millisecond)
		}
		cancel() // Ctrl-C
	}()
	var out, errb bytes.Buffer
	code := Execute(ctx, Streams{Out: &out, Err: &errb}, []string{"audit", "query", "--follow", "--limit", "1", "--interval", "50ms", "-o", "json"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e struct{ EventID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids = append(ids, e.EventID)
	}
	// e2 is older than the one past event shown (--limit 1): never printed.
	if strings.Join(ids, ",") != "e3,e4" {
		t.Errorf("followed %v, want e3,e4", ids)
	}
	if !strings.Contains(errb.String(), "following audit events") || !strings.Contains(errb.String(), "stopped following") {
		t.Errorf("progress on stderr: %q", errb.String())
	}
}
