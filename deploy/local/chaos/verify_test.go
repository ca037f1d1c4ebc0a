package chaos

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// parallel runs f over items with n goroutines and collects its errors.
func parallel[T any](items []T, n int, f func(T) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	ch := make(chan T)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := f(it); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	return errs
}

func reportErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	if len(errs) == 0 {
		return
	}
	msgs := make([]string, 0, 5)
	for i, e := range errs {
		if i == 5 {
			break
		}
		msgs = append(msgs, e.Error())
	}
	t.Errorf("%s: %d failures, e.g.\n  %s", what, len(errs), strings.Join(msgs, "\n  "))
}

// patiently repeats a request while the answer is a 429, waiting as
// Retry-After says, as a well-behaved client does (the checks read
// hundreds of records with one agent's token, over its rate limit).
func patiently(f func() reply) reply {
	for i := 0; ; i++ {
		r := f()
		if r.status != http.StatusTooManyRequests || i == 20 {
			return r
		}
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 {
			wait = 1
		}
		time.Sleep(time.Duration(wait) * time.Second)
	}
}

// verifyWrites reads back every acknowledged write: each agent, each
// credential in its agent's list, and each credential's secret, which must
// still buy a token (so its Vault copy survived too).
func verifyWrites(t *testing.T, a *api, admin string, agents []string, creds []credential) {
	t.Helper()
	reportErrors(t, "registered agents read back", parallel(agents, 4, func(id string) error {
		r := patiently(func() reply { return a.do("GET", "/v1/agents/"+id, admin, nil) })
		var got struct {
			AgentID string `json:"agentId"`
		}
		if err := r.json(&got); err != nil || got.AgentID != id {
			return fmt.Errorf("agent %s: %s", id, r)
		}
		return nil
	}))

	byAgent := map[string][]credential{}
	for _, c := range creds {
		byAgent[c.agentID] = append(byAgent[c.agentID], c)
	}
	owners := make([]string, 0, len(byAgent))
	for id := range byAgent {
		owners = append(owners, id)
	}
	reportErrors(t, "created credentials listed", parallel(owners, 4, func(id string) error {
		listed := map[string]string{}
		page := ""
		for {
			r := patiently(func() reply {
				return a.do("GET", "/v1/agents/"+id+"/credentials?pageSize=100&pageToken="+url.QueryEscape(page), admin, nil)
			})
			var got struct {
				Credentials []struct {
					CredentialID string `json:"credentialId"`
					Status       string `json:"status"`
				} `json:"credentials"`
				NextPageToken string `json:"nextPageToken"`
			}
			if err := r.json(&got); err != nil {
				return fmt.Errorf("list credentials of %s: %v", id, err)
			}
			for _, c := range got.Credentials {
				listed[c.CredentialID] = c.Status
			}
			if page = got.NextPageToken; page == "" {
				break
			}
		}
		for _, c := range byAgent[id] {
			if listed[c.credentialID] != "active" {
				return fmt.Errorf("credential %s of %s: listed as %q", c.credentialID, id, listed[c.credentialID])
			}
		}
		return nil
	}))

	reportErrors(t, "created credentials' secrets buy a token", parallel(creds, 4, func(c credential) error {
		if r := patiently(func() reply { _, r := a.token(c.agentID, c.secret); return r }); !r.ok() {
			return fmt.Errorf("credential %s (created with %s killed): %s", c.credentialID, orSteady(c.during), r)
		}
		return nil
	}))
}

func orSteady(phase string) string {
	if phase == "" {
		return "nothing"
	}
	return phase
}

// auditWait bounds how long the audit log may take to hold every event of
// the run (its sources deliver at least once, from cursors).
const auditWait = 60 * time.Second

// emitterWindow is how long before the token service's SIGKILL an issued
// token's audit event may legitimately be lost: the emitter waits at most
// 25 ms for Redis before answering and keeps the event in memory if Redis
// is slower, and events still in memory die with the process (docs/audit.md,
// "The emitter's trade-off"). A busy machine stretches the 25 ms.
const emitterWindow = time.Second

// verifyAudit finds the audit event of every acknowledged change — agent
// registered, credential generated, token issued — exactly once, and checks
// the hash chain after all the crashes. The only events allowed missing are
// those of tokens issued within emitterWindow before tokenKilled.
func verifyAudit(t *testing.T, a *api, admin string, since time.Time, agents []string, creds []credential, tokens []issued, tokenKilled time.Time) (ok bool) {
	t.Helper()
	ok = true
	mayLose := map[string]bool{}
	issuedAt := map[string]time.Time{}
	for _, tok := range tokens {
		issuedAt["token:"+tok.jti] = tok.at
	}
	want := map[string][]string{}
	for _, id := range agents {
		want["agent.registered"] = append(want["agent.registered"], "agent:"+id)
	}
	for _, c := range creds {
		want["credential.generated"] = append(want["credential.generated"], "credential:"+c.credentialID)
	}
	for _, tok := range tokens {
		want["token.issued"] = append(want["token.issued"], "token:"+tok.jti)
		if !tokenKilled.IsZero() && tok.at.Before(tokenKilled) && tok.at.After(tokenKilled.Add(-emitterWindow)) {
			mayLose["token:"+tok.jti] = true
		}
	}
	actions := make([]string, 0, len(want))
	for action := range want {
		actions = append(actions, action)
	}
	sort.Strings(actions)

	for _, action := range actions {
		var counts map[string]int
		var missing, excused []string
		err := waitFor(auditWait, func() error {
			var err error
			if counts, err = auditCounts(a, admin, action, since.Add(-time.Minute)); err != nil {
				return err
			}
			missing, excused = missing[:0], excused[:0]
			for _, target := range want[action] {
				switch {
				case counts[target] > 0:
				case mayLose[target]:
					excused = append(excused, target)
				default:
					missing = append(missing, target)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("%d of %d %s events missing", len(missing), len(want[action]), action)
			}
			return nil
		})
		if err != nil {
			var ex []string
			for _, m := range missing[:min(len(missing), 5)] {
				if at, ok := issuedAt[m]; ok {
					m += " (issued " + at.Format("15:04:05.000") + ")"
				}
				ex = append(ex, m)
			}
			t.Errorf("audit: %v, e.g. %v", err, ex)
			ok = false
		}
		var dup []string
		for _, target := range want[action] {
			if counts[target] > 1 {
				dup = append(dup, fmt.Sprintf("%s ×%d", target, counts[target]))
			}
		}
		if len(dup) > 0 {
			t.Errorf("audit: %d %s events recorded more than once, e.g. %v", len(dup), action, dup[:min(len(dup), 5)])
			ok = false
		}
		t.Logf("audit: %d %s events expected, %d found", len(want[action]), action, len(want[action])-len(missing)-len(excused))
		if len(excused) > 0 {
			t.Logf("audit: %d %s events lost in the emitter's documented window (issued within %s before the token service was killed), e.g. %v",
				len(excused), action, emitterWindow, excused[:min(len(excused), 3)])
		}
	}

	r := patiently(func() reply { return a.do("GET", "/v1/audit/verify", admin, nil) })
	var v struct {
		OK            bool `json:"ok"`
		EventsChecked any  `json:"eventsChecked"`
	}
	if err := r.json(&v); err != nil || !v.OK {
		t.Errorf("audit chain after the faults: %s", r)
	}
	return ok
}

// auditDiagnostics logs where events of the Redis stream path may be
// stuck: the stream, its consumer group, its dead letters, and what the
// token service's emitter reports.
func auditDiagnostics(t *testing.T, redisPort int, tokenAdmin string) {
	t.Helper()
	for _, args := range [][]string{
		{"XLEN", "agentidp:audit"},
		{"XINFO", "GROUPS", "agentidp:audit"},
		{"XPENDING", "agentidp:audit", "audit"},
		{"XLEN", "agentidp:audit:dead"},
		{"XRANGE", "agentidp:audit:dead", "-", "+", "COUNT", "5"},
	} {
		out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(redisPort)}, args...)...).CombinedOutput()
		t.Logf("redis %v: %s %v", args, bytes.TrimSpace(out), err)
	}
	resp, err := http.Get("http://" + tokenAdmin + "/metrics")
	if err != nil {
		t.Logf("token metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "agentidp_audit_emitted_total") {
			t.Logf("token (restarted) %s", line)
		}
	}
}

// auditCounts counts the events of one action since a time, by target.
func auditCounts(a *api, admin, action string, since time.Time) (map[string]int, error) {
	counts := map[string]int{}
	page := ""
	for {
		q := url.Values{"action": {action}, "pageSize": {"1000"}, "startTime": {since.UTC().Format(time.RFC3339Nano)}}
		if page != "" {
			q.Set("pageToken", page)
		}
		r := patiently(func() reply { return a.do("GET", "/v1/audit/events?"+q.Encode(), admin, nil) })
		var got struct {
			Events []struct {
				Target string `json:"target"`
			} `json:"events"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := r.json(&got); err != nil {
			return nil, fmt.Errorf("list %s events: %v", action, err)
		}
		for _, e := range got.Events {
			counts[e.Target]++
		}
		if page = got.NextPageToken; page == "" {
			return counts, nil
		}
	}
}
