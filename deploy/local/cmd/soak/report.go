package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/machine"
)

// The flatness tolerances, end sample against start sample (both at rest,
// the start one after warm-up). A leak at soak rates grows without bound
// (a goroutine or a descriptor per request is thousands a minute); the
// slack absorbs what comes and goes on its own: GC timing, a pooled
// connection opened or closed, a background goroutine between ticks.
const (
	rssFactor, rssSlackMiB  = 1.5, 20
	grFactor, grSlack       = 1.10, 5
	fdFactor, fdSlack       = 1.10, 10
	pgConnFactor, pgConnSlk = 1.10, 5
)

// judgedFDs is the descriptor count the verdict compares: sockets for
// PostgreSQL, whose backends keep relation files open as tables and
// partitions grow (up to max_files_per_process each), all of them for the
// others.
func judgedFDs(name string, u usage) int64 {
	if name == "postgres" {
		return int64(u.Sockets)
	}
	return int64(u.FDs)
}

func within(start, end int64, factor, slack float64) bool {
	return float64(end) <= float64(start)*factor+slack
}

type window struct {
	at    time.Duration // since the soak began
	tally *tally
	snap  snapshot
}

// report is what the soak found.
type report struct {
	cfg       config
	machine   machine.Info
	started   time.Time
	peak      float64 // 0 when RATE was given
	peakTally *tally
	rate      float64
	warmup    *tally
	burst     *tally // the pool-growing burst after warm-up (not judged)
	soak      *tally
	elapsed   time.Duration
	start     snapshot
	end       snapshot
	windows   []window
}

func (s snapshot) totalRSS() int64 {
	var n int64
	for _, u := range s.ByName {
		n += u.RSSKiB
	}
	return n
}

func (s snapshot) total(f func(usage) int) int {
	n := 0
	for _, u := range s.ByName {
		if v := f(u); v > 0 {
			n += v
		}
	}
	return n
}

// failures lists every reason the soak fails; none is a pass.
func (r *report) failures() []string {
	var out []string
	for _, phase := range []struct {
		name string
		t    *tally
	}{{"warm-up", r.warmup}, {"soak", r.soak}} {
		if n := phase.t.count(500, 599); n > 0 {
			out = append(out, fmt.Sprintf("%s: %d responses were 5xx", phase.name, n))
		}
		if n := phase.t.count(0, 0); n > 0 {
			out = append(out, fmt.Sprintf("%s: %d requests got no answer (transport error or timeout)", phase.name, n))
		}
	}
	for _, name := range r.names() {
		s, e := r.start.ByName[name], r.end.ByName[name]
		if !within(s.RSSKiB, e.RSSKiB, rssFactor, rssSlackMiB*1024) {
			out = append(out, fmt.Sprintf("%s: RSS grew from %s to %s", name, mib(s.RSSKiB), mib(e.RSSKiB)))
		}
		if s.Goroutines >= 0 && e.Goroutines >= 0 && !within(int64(s.Goroutines), int64(e.Goroutines), grFactor, grSlack) {
			out = append(out, fmt.Sprintf("%s: goroutines grew from %d to %d", name, s.Goroutines, e.Goroutines))
		}
		if (s.Goroutines >= 0) != (e.Goroutines >= 0) {
			out = append(out, fmt.Sprintf("%s: /metrics answered at one sample only", name))
		}
		if !within(judgedFDs(name, s), judgedFDs(name, e), fdFactor, fdSlack) {
			out = append(out, fmt.Sprintf("%s: open descriptors grew from %d to %d", name, judgedFDs(name, s), judgedFDs(name, e)))
		}
		if e.Procs == 0 {
			out = append(out, name+": not running at the end")
		}
	}
	if r.start.PGConns >= 0 && r.end.PGConns >= 0 && !within(int64(r.start.PGConns), int64(r.end.PGConns), pgConnFactor, pgConnSlk) {
		out = append(out, fmt.Sprintf("PostgreSQL client connections grew from %d to %d", r.start.PGConns, r.end.PGConns))
	}
	return out
}

func (r *report) pass() bool { return len(r.failures()) == 0 }

// names are the processes in the stack's order.
func (r *report) names() []string {
	var out []string
	for name := range r.start.ByName {
		out = append(out, name)
	}
	order := map[string]int{"postgres": 0, "redis": 1, "vault": 2, "registry": 3, "credentials": 4, "audit": 5,
		"token": 6, "token-2": 7, "authz": 8, "authz-2": 9, "gateway": 10, "envoy": 11}
	slices.SortFunc(out, func(a, b string) int {
		oa, oka := order[a]
		ob, okb := order[b]
		if oka && okb {
			return oa - ob
		}
		return strings.Compare(a, b)
	})
	return out
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// markdown is the report for the terminal and docs/benchmarks.md.
func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	verdict := "**PASS**"
	if !r.pass() {
		verdict = "**FAIL**"
	}
	fmt.Fprintf(&b, "Run: %s with `make soak` (SOAK_DURATION=%s): %s.  \n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.cfg.Duration, verdict)
	fmt.Fprintf(&b, "Machine: %s.  \n", m)
	fmt.Fprintf(&b, "Load average at the end: %s", m.LoadString())
	if m.Busy() {
		fmt.Fprintf(&b, " — **busy machine**: other work shared the %d cores", m.Cores)
	}
	b.WriteString(".\n")
	if r.cfg.Note != "" {
		fmt.Fprintf(&b, "\n**Note:** %s\n", r.cfg.Note)
	}
	b.WriteString("\n")
	if r.peak > 0 {
		fmt.Fprintf(&b, "Rate: %.0f operations/s, half the measured peak of %.0f/s (closed loop, 32 workers, %s; %d of %d answered as expected, p99 %s).  \n",
			r.rate, r.peak, r.cfg.PeakDuration, r.peakTally.ok, r.peakTally.sent, ms(r.peakTally.quantile(-1, .99)))
	} else {
		fmt.Fprintf(&b, "Rate: %.0f operations/s (RATE).  \n", r.rate)
	}
	fmt.Fprintf(&b, "Mix: %d%% token issue, %d%% GET /v1/agents/{id}, %d%% list, %d%% PATCH, %d%% register; %d agents and %d writers, default rate limits; 2 token and 2 authz replicas behind Envoy.  \n",
		mixToken, mixGet, mixList, mixPatch, mixRegister, r.cfg.Agents, r.cfg.Writers)
	fmt.Fprintf(&b, "Warm-up %s (%d operations, %d 5xx), a 5 s burst with all %d workers to grow the connection pools, then the soak: %d operations in %s (%.0f/s achieved; %d not started because %d were already in flight).\n\n",
		r.cfg.Warmup, r.warmup.sent, r.warmup.count(500, 599), r.cfg.Workers, r.soak.sent, r.elapsed.Round(time.Second),
		float64(r.soak.sent)/r.elapsed.Seconds(), r.soak.dropped, r.cfg.Workers)

	if f := r.failures(); len(f) > 0 {
		b.WriteString("Failures:\n\n")
		for _, s := range f {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}

	b.WriteString("| Operation | Requests | As expected | 4xx | 5xx | No answer | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for k, name := range ops {
		r.soak.mu.Lock()
		var n, ok, c4, c5, c0 int64
		for s, c := range r.soak.status[k] {
			n += c
			switch {
			case s == wantStatus[k]:
				ok += c
			case s == 0:
				c0 += c
			case s >= 500:
				c5 += c
			case s >= 400:
				c4 += c
			}
		}
		r.soak.mu.Unlock()
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", name, n, ok, c4, c5, c0,
			ms(r.soak.quantile(k, .5)), ms(r.soak.quantile(k, .99)))
	}

	fmt.Fprintf(&b, "\nResources at rest, after warm-up → at the end (tolerances: RSS ≤ start × %.1f + %d MiB, goroutines ≤ start × %.2f + %d, descriptors ≤ start × %.2f + %d, sockets only for PostgreSQL; RSS counts the private memory of a process and its children, PostgreSQL's backends, plus their shared memory once):\n\n",
		rssFactor, rssSlackMiB, grFactor, grSlack, fdFactor, fdSlack)
	b.WriteString("| Process | RSS | Go live heap ≈ | Goroutines | Open fds (sockets) | Flat |\n|---|---:|---:|---:|---:|:---:|\n")
	for _, name := range r.names() {
		s, e := r.start.ByName[name], r.end.ByName[name]
		flat := within(s.RSSKiB, e.RSSKiB, rssFactor, rssSlackMiB*1024) &&
			within(judgedFDs(name, s), judgedFDs(name, e), fdFactor, fdSlack) &&
			(s.Goroutines < 0 || within(int64(s.Goroutines), int64(e.Goroutines), grFactor, grSlack))
		gr := "—"
		if s.Goroutines >= 0 || e.Goroutines >= 0 {
			gr = fmt.Sprintf("%d → %d", s.Goroutines, e.Goroutines)
		}
		procs := ""
		if e.Procs > 1 {
			procs = fmt.Sprintf(" (%d processes)", e.Procs)
		}
		heap := "—"
		if s.HeapLiveKiB >= 0 || e.HeapLiveKiB >= 0 {
			heap = mib(s.HeapLiveKiB) + " → " + mib(e.HeapLiveKiB)
		}
		fmt.Fprintf(&b, "| %s%s | %s → %s | %s | %s | %d (%d) → %d (%d) | %s |\n", name, procs, mib(s.RSSKiB), mib(e.RSSKiB), heap, gr,
			s.FDs, s.Sockets, e.FDs, e.Sockets, map[bool]string{true: "✓", false: "✗"}[flat])
	}
	fmt.Fprintf(&b, "\nPostgreSQL client connections (pg_stat_activity): %d → %d. Go live heap ≈ is the heap goal at the last collection over 1 + GOGC/100 (diagnostic, not judged).\n", r.start.PGConns, r.end.PGConns)
	b.WriteString(r.unexpected())

	if len(r.windows) > 0 {
		fmt.Fprintf(&b, "\nUnder load, every %s:\n\n", r.cfg.Sample)
		b.WriteString("| t | ops/s | p99 | 5xx | RSS, all processes | Goroutines, all services | Open fds, all |\n|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, w := range r.windows {
			fmt.Fprintf(&b, "| %s | %.0f | %s | %d | %s | %d | %d |\n", w.at.Round(time.Second),
				float64(w.tally.sent)/r.cfg.Sample.Seconds(), ms(w.tally.quantile(-1, .99)), w.tally.count(500, 599),
				mib(w.snap.totalRSS()), w.snap.total(func(u usage) int { return u.Goroutines }),
				w.snap.total(func(u usage) int { return u.FDs }))
		}
	}
	return b.String()
}

// unexpected lists every kind of answer that was not the expected one, per
// phase, with what the first of them said.
func (r *report) unexpected() string {
	var b strings.Builder
	for _, phase := range []struct {
		name string
		t    *tally
	}{{"peak", r.peakTally}, {"warm-up", r.warmup}, {"burst", r.burst}, {"soak", r.soak}} {
		if phase.t == nil {
			continue
		}
		phase.t.mu.Lock()
		for kind, byStatus := range phase.t.status {
			statuses := make([]int, 0, len(byStatus))
			for s := range byStatus {
				if s != wantStatus[kind] {
					statuses = append(statuses, s)
				}
			}
			slices.Sort(statuses)
			for _, s := range statuses {
				what := strconv.Itoa(s)
				if s == 0 {
					what = "no answer"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", phase.name, ops[kind], what, byStatus[s],
					strings.ReplaceAll(phase.t.firstSeen[[2]int{kind, s}], "|", "\\|"))
			}
		}
		phase.t.mu.Unlock()
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nUnexpected answers (the peak and burst phases run at saturation and are not judged):\n\n" +
		"| Phase | Operation | Status | Count | The first said |\n|---|---|---|---:|---|\n" + b.String()
}
