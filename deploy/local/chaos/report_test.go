package chaos

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// row is one line of the results table.
type row struct {
	component string
	down      time.Duration // kill to the restarted process accepting connections
	requests  int           // started between the kill and the end of recovery
	statuses  map[string]int
	maxTook   time.Duration
	// recovery: from the restart until the last failed request ended (0:
	// clients saw no error after the restart); impact false: no request
	// failed at all.
	recovery time.Duration
	impact   bool
	breakers string
	slowest  record
}

// phaseOf returns the phase a request belongs to: it started in the
// window [kill, end), or was in flight at the kill. Nil: between faults.
func phaseOf(phases []*phase, r record) *phase {
	for _, p := range phases {
		if !r.start.Before(p.killAt) && r.start.Before(p.endAt) {
			return p
		}
		if r.start.Before(p.killAt) && r.end.After(p.killAt) {
			return p
		}
	}
	return nil
}

func outcome(r record) string {
	switch {
	case r.status == 0:
		return r.netErr
	case r.ok():
		return "2xx"
	}
	return fmt.Sprint(r.status)
}

func summarise(phases []*phase, records []record, breakers *breakerWatch) []row {
	rows := make([]row, len(phases))
	index := map[*phase]int{}
	for i, p := range phases {
		index[p] = i
		rows[i] = row{component: p.component, down: p.upAt.Sub(p.killAt), statuses: map[string]int{},
			breakers: breakerSummary(breakers.between(p.killAt, p.endAt))}
	}
	for _, r := range records {
		p := phaseOf(phases, r)
		if p == nil {
			continue
		}
		w := &rows[index[p]]
		w.requests++
		w.statuses[outcome(r)]++
		if took := r.end.Sub(r.start); took > w.maxTook {
			w.maxTook = took
			w.slowest = r
		}
		if !r.ok() {
			w.impact = true
			if d := r.end.Sub(p.upAt); d > w.recovery {
				w.recovery = d
			}
		}
	}
	return rows
}

// breakerSummary renders each breaker's path through its states, e.g.
// "token→credentials: closed→open→half-open→closed".
func breakerSummary(ts []transition) string {
	paths := map[string][]string{}
	var order []string
	for _, t := range ts {
		if _, ok := paths[t.breaker]; !ok {
			order = append(order, t.breaker)
			paths[t.breaker] = []string{stateNames[t.from]}
		}
		paths[t.breaker] = append(paths[t.breaker], stateNames[t.to])
	}
	sort.Strings(order)
	var parts []string
	for _, b := range order {
		parts = append(parts, b+": "+strings.Join(paths[b], "→"))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "; ")
}

func renderStatuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		// 2xx first, then HTTP statuses, then transport errors.
		rank := func(k string) string {
			if k == "2xx" {
				return "0"
			}
			if k[0] >= '0' && k[0] <= '9' {
				return "1" + k
			}
			return "2" + k
		}
		return rank(keys[i]) < rank(keys[j])
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func renderTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| component killed | down | requests during outage | status breakdown | max latency | time to recover | breaker transitions |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		recovery := "no errors"
		if r.impact {
			recovery = r.recovery.Round(10 * time.Millisecond).String()
			if r.recovery < 10*time.Millisecond {
				recovery = "at restart"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s |\n", r.component,
			r.down.Round(10*time.Millisecond), r.requests, renderStatuses(r.statuses),
			r.maxTook.Round(time.Millisecond), recovery, r.breakers)
	}
	return b.String()
}

func checkPhases(t *testing.T, phases []*phase) {
	t.Helper()
	if len(phases) != len(stack.Components) {
		t.Errorf("only %d of %d faults ran", len(phases), len(stack.Components))
	}
	for _, p := range phases {
		if p.failure != "" {
			t.Errorf("%s: %s", p.component, p.failure)
		}
	}
}

// checkAnswers: every answer is a success or a documented error; nothing
// hung; no request failed between faults; only Envoy's own outage may cost
// clients their connection.
func checkAnswers(t *testing.T, phases []*phase, records []record, stalls *stallWatch) {
	t.Helper()
	bad := map[string][]record{}
	excused := 0
	for _, r := range records {
		p := phaseOf(phases, r)
		where := "between faults"
		if p != nil {
			where = "with " + p.component + " killed"
		}
		timedOut := (r.status == 0 && r.netErr == "timeout") || r.status == http.StatusGatewayTimeout
		switch {
		case timedOut && stalls.during(r.start, r.end) > 0:
			excused++ // the machine stopped under it: see stallWatch
		case r.problem != "":
			key := fmt.Sprintf("%s %s: %s", where, r.kind, r.problem)
			bad[key] = append(bad[key], r)
		case r.status == 0 && r.netErr == "timeout":
			key := fmt.Sprintf("%s %s: hung past the client timeout (%s)", where, r.kind, clientTimeout)
			bad[key] = append(bad[key], r)
		case r.status == 0 && connectionLossAllowed(phases, r):
			// Envoy itself was down or died under it.
		case r.status == 0:
			key := fmt.Sprintf("%s %s: no HTTP answer (%s)", where, r.kind, r.netErr)
			bad[key] = append(bad[key], r)
		case p == nil && !r.ok():
			key := fmt.Sprintf("%s %s: %s", where, r.kind, outcome(r))
			bad[key] = append(bad[key], r)
		}
	}
	if excused > 0 {
		t.Logf("%d requests timed out (client timeout or the gateway's 504) while the machine stalled; not counted as faults of the mesh", excused)
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ex := bad[k][0]
		t.Errorf("%s — %d requests, e.g. %s from %s to %s (reason %q) %s", k, len(bad[k]), ex.path,
			ex.start.Format("15:04:05.000"), ex.end.Format("15:04:05.000"), ex.reason, ex.detail)
	}
}

// connectionLossAllowed: a request gets no HTTP answer only when Envoy —
// the listener itself — is down (refused) or dies under it (reset): it
// was in flight at Envoy's kill or started before Envoy was back.
func connectionLossAllowed(phases []*phase, r record) bool {
	if r.netErr != "refused" && r.netErr != "reset" {
		return false
	}
	for _, p := range phases {
		if p.component == "envoy" && !r.end.Before(p.killAt) && r.start.Before(p.upAt.Add(time.Second)) {
			return true
		}
	}
	return false
}

// checkBreakers: a dead dependency opens breakers in front of it, and at
// least one of them closes again once it is back. (Runs ensure that none
// is left open. One may be left half-open: gobreaker half-opens when its
// timeout passes and closes on the next successful call, so half-open only
// means that nothing has needed the dependency since — e.g. authz's
// registry breaker once its feed is live again.)
func checkBreakers(t *testing.T, phases []*phase, breakers *breakerWatch) {
	t.Helper()
	for _, p := range phases {
		want := expectedBreakers[p.component]
		if len(want) == 0 {
			continue
		}
		ts := breakers.between(p.killAt, p.endAt)
		someOpened, someClosed := breakersOpened(ts, want), breakersReclosed(ts, want)
		switch {
		case !someOpened:
			t.Errorf("%s killed: none of the breakers %v opened", p.component, want)
		case !someClosed:
			t.Errorf("%s killed: breakers %v opened, but none closed within %s of the recovery", p.component, want, closeWithin)
		}
	}
}

// breakersOpened: one of the breakers named in want opened.
func breakersOpened(ts []transition, want []string) bool {
	for _, tr := range ts {
		if tr.to == open && slices.Contains(want, tr.breaker) {
			return true
		}
	}
	return false
}

// breakersReclosed: one of the breakers named in want opened and closed
// again after its last opening; or none of them opened (nothing to wait
// for).
func breakersReclosed(ts []transition, want []string) bool {
	state := map[string]int{}
	for _, tr := range ts {
		if slices.Contains(want, tr.breaker) {
			state[tr.breaker] = tr.to
		}
	}
	if len(state) == 0 {
		return true
	}
	for _, s := range state {
		if s == closed {
			return true
		}
	}
	return false
}

func updateRequested() bool { return os.Getenv("UPDATE_RELIABILITY") == "1" }

type report struct {
	wall, loadFor                         time.Duration
	requests, agents, credentials, tokens int
}

const (
	beginMarker = "<!-- chaos-results:begin (written by deploy/local/chaos with UPDATE_RELIABILITY=1) -->"
	endMarker   = "<!-- chaos-results:end -->"
)

// writeReliabilityDoc replaces the results between the markers of
// docs/reliability.md.
func writeReliabilityDoc(table string, r report) error {
	root, err := stack.FindRepoRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, "docs", "reliability.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	begin := strings.Index(string(doc), beginMarker)
	end := strings.Index(string(doc), endMarker)
	if begin < 0 || end < begin {
		return fmt.Errorf("%s: the results markers are missing", path)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(load))
	loadAvg := "?"
	if len(fields) > 0 {
		loadAvg = fields[0]
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n\n")
	fmt.Fprintf(&b, "Run of %s: suite wall time %s (mesh start-up, fixture, %s of load, checks); %d requests; "+
		"%d agents, %d credentials and %d tokens acknowledged, every one read back and found once in the audit log; "+
		"load average %s at the end.\n\n",
		time.Now().UTC().Format("2006-01-02"), r.wall.Round(time.Second), r.loadFor.Round(time.Second), r.requests,
		r.agents, r.credentials, r.tokens, loadAvg)
	b.WriteString(table)
	b.WriteString("\n")
	out := string(doc[:begin]) + b.String() + string(doc[end:])
	return os.WriteFile(path, []byte(out), 0o644)
}
