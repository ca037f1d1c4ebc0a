package main

import (
	"strings"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	base := func() *report {
		r := &report{cfg: config{Duration: time.Minute, Sample: time.Minute, Workers: 8}, rate: 100,
			warmup: newTally(), soak: newTally()}
		r.soak.add(0, 200, time.Millisecond, "")
		r.start = snapshot{PGConns: 10, ByName: map[string]usage{
			"token":    {Procs: 1, RSSKiB: 30 << 10, FDs: 40, Goroutines: 50},
			"postgres": {Procs: 5, RSSKiB: 40 << 10, FDs: 30, Sockets: 5, Goroutines: -1},
		}}
		r.end = snapshot{PGConns: 10, ByName: map[string]usage{
			"token":    {Procs: 1, RSSKiB: 30 << 10, FDs: 40, Goroutines: 50},
			"postgres": {Procs: 5, RSSKiB: 40 << 10, FDs: 30, Sockets: 5, Goroutines: -1},
		}}
		return r
	}
	tests := []struct {
		name   string
		change func(r *report)
		want   string // a failure containing this; "" passes
	}{
		{"flat passes", func(*report) {}, ""},
		{"RSS within 1.5x + 20 MiB", func(r *report) { setUsage(r, "token", func(u *usage) { u.RSSKiB = 65 << 10 }) }, ""},
		{"RSS beyond", func(r *report) { setUsage(r, "token", func(u *usage) { u.RSSKiB = 66 << 10 }) }, "token: RSS grew"},
		{"goroutines within 10% + 5", func(r *report) { setUsage(r, "token", func(u *usage) { u.Goroutines = 60 }) }, ""},
		{"goroutines beyond", func(r *report) { setUsage(r, "token", func(u *usage) { u.Goroutines = 61 }) }, "goroutines grew from 50 to 61"},
		{"descriptors beyond", func(r *report) { setUsage(r, "token", func(u *usage) { u.FDs = 55 }) }, "token: open descriptors grew"},
		{"postgres files pass", func(r *report) { setUsage(r, "postgres", func(u *usage) { u.FDs = 900 }) }, ""},
		{"postgres sockets beyond", func(r *report) { setUsage(r, "postgres", func(u *usage) { u.Sockets = 20 }) }, "postgres: open descriptors grew from 5 to 20"},
		{"process gone", func(r *report) { setUsage(r, "token", func(u *usage) { u.Procs = 0 }) }, "not running"},
		{"postgres connections beyond", func(r *report) { r.end.PGConns = 17 }, "PostgreSQL client connections grew"},
		{"a 5xx fails", func(r *report) { r.soak.add(1, 503, time.Millisecond, "") }, "soak: 1 responses were 5xx"},
		{"no answer fails", func(r *report) { r.warmup.add(1, 0, time.Millisecond, "") }, "warm-up: 1 requests got no answer"},
		{"429 passes", func(r *report) { r.soak.add(0, 429, time.Millisecond, "") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.change(r)
			got := strings.Join(r.failures(), "; ")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("failures %q, want %q", got, tt.want)
			}
			if md := r.markdown(); !strings.Contains(md, "| token |") {
				t.Fatalf("report lacks the token row:\n%s", md)
			}
		})
	}
}

func setUsage(r *report, name string, f func(*usage)) {
	u := r.end.ByName[name]
	f(&u)
	r.end.ByName[name] = u
}
