package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The mix, per 100 operations: what an agent fleet does through the
// gateway. Each agent refreshes its token often and reads; a few writers
// update and register agents. Per-agent rates stay well under the default
// rate limits (token 10/s per client, reads 100/s, writes 20/s per agent)
// at the rates a 2-core machine sustains.
const (
	mixToken    = 30 // POST /oauth2/token (client_secret_basic)
	mixGet      = 55 // GET /v1/agents/{id}
	mixList     = 5  // GET /v1/agents?pageSize=20
	mixPatch    = 8  // PATCH /v1/agents/{id}?updateMask=description
	mixRegister = 2  // POST /v1/agents
)

// op names, in report order.
var ops = []string{"token", "get", "list", "patch", "register"}

// agent is one client of the fleet with its current access token.
type agent struct {
	id, clientID, secret string
	token                atomic.Pointer[string]
}

// fleet is the population the load runs as.
type fleet struct {
	gateway string
	hc      *http.Client
	readers []*agent // agents:read
	writers []*agent // agents:read, agents:write
	n       [5]atomic.Int64
}

func newFleet(gateway string, conns int) *fleet {
	return &fleet{gateway: gateway, hc: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute},
	}}
}

// all is readers and writers: every one of them issues tokens.
func (f *fleet) all(i int64) *agent {
	n := int64(len(f.readers) + len(f.writers))
	i %= n
	if i < int64(len(f.readers)) {
		return f.readers[i]
	}
	return f.writers[i-int64(len(f.readers))]
}

// do runs operation number i of the mix and returns its kind and status
// (0 for a transport error), and for an unexpected answer what it said.
func (f *fleet) do(ctx context.Context, i int64) (kind int, status int, detail string) {
	switch k := i % 100; {
	case k < mixToken:
		kind = 0
	case k < mixToken+mixGet:
		kind = 1
	case k < mixToken+mixGet+mixList:
		kind = 2
	case k < mixToken+mixGet+mixList+mixPatch:
		kind = 3
	default:
		kind = 4
	}
	seq := f.n[kind].Add(1)
	switch kind {
	case 0:
		status, detail = f.issue(ctx, f.all(seq))
	case 1:
		a := f.readers[seq%int64(len(f.readers))]
		status, detail = f.call(ctx, a, "GET", "/v1/agents/"+a.id, "")
	case 2:
		a := f.readers[seq%int64(len(f.readers))]
		status, detail = f.call(ctx, a, "GET", "/v1/agents?pageSize=20", "")
	case 3:
		w := f.writers[seq%int64(len(f.writers))]
		target := f.readers[rand.IntN(len(f.readers))]
		body := fmt.Sprintf(`{"description":"soak update %d"}`, seq)
		status, detail = f.call(ctx, w, "PATCH", "/v1/agents/"+target.id+"?updateMask=description", body)
	default:
		w := f.writers[seq%int64(len(f.writers))]
		body := fmt.Sprintf(`{"name":"soak-%d","owner":"team-soak","agentType":"assistant","version":"1.0.0","scopes":["agents:read"]}`, seq)
		status, detail = f.call(ctx, w, "POST", "/v1/agents", body)
	}
	if status == wantStatus[kind] {
		detail = ""
	}
	return kind, status, detail
}

// excerpt is the start of an unexpected answer's body, for the report.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// issue gets a new token for a and keeps it for a's next calls.
func (f *fleet) issue(ctx context.Context, a *agent) (int, string) {
	req, err := http.NewRequestWithContext(ctx, "POST", f.gateway+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.clientID, a.secret)
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
			a.token.Store(&tok.AccessToken)
		}
	}
	return resp.StatusCode, excerpt(body)
}

// call sends an authenticated request as a and returns the status.
func (f *fleet) call(ctx context.Context, a *agent, method, path, body string) (int, string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.gateway+path, rd)
	if err != nil {
		return 0, err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+*a.token.Load())
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, excerpt(b)
}

// wantStatus is the success status of each kind of operation.
var wantStatus = [5]int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusCreated}

// tally counts outcomes and keeps latencies, for a phase or a window.
type tally struct {
	mu       sync.Mutex
	status   [5]map[int]int64
	lat      [5][]time.Duration
	ok, sent int64
	dropped  int64 // due but not started: every worker was busy
	// firstSeen is what the first unexpected answer of each kind and
	// status said.
	firstSeen map[[2]int]string
}

func newTally() *tally {
	t := &tally{firstSeen: map[[2]int]string{}}
	for i := range t.status {
		t.status[i] = map[int]int64{}
	}
	return t
}

func (t *tally) add(kind, status int, d time.Duration, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := [2]int{kind, status}; status != wantStatus[kind] && t.firstSeen[k] == "" {
		t.firstSeen[k] = detail
	}
	t.status[kind][status]++
	t.lat[kind] = append(t.lat[kind], d)
	t.sent++
	if status == wantStatus[kind] {
		t.ok++
	}
}

// count of answers with a status in [lo, hi]; status 0 is a transport error.
func (t *tally) count(lo, hi int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, m := range t.status {
		for s, c := range m {
			if s >= lo && s <= hi {
				n += c
			}
		}
	}
	return n
}

// quantile of one kind's latencies (kind -1: all kinds).
func (t *tally) quantile(kind int, q float64) time.Duration {
	t.mu.Lock()
	var all []time.Duration
	for k := range t.lat {
		if kind < 0 || k == kind {
			all = append(all, t.lat[k]...)
		}
	}
	t.mu.Unlock()
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[int(q*float64(len(all)-1))]
}

// closedLoop runs the mix from workers that each send the next operation as
// soon as the last one answered, for d: the peak this client gets.
func closedLoop(ctx context.Context, f *fleet, workers int, d time.Duration, next *atomic.Int64) *tally {
	t := newTally()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				kind, status, detail := f.do(context.WithoutCancel(ctx), next.Add(1))
				t.add(kind, status, time.Since(t0), detail)
			}
		}()
	}
	wg.Wait()
	return t
}

// openLoop starts operations at rate per second for d whether or not
// earlier ones have answered (up to workers in flight; beyond that an
// operation is dropped and counted). Every window, onWindow gets the
// window's tally (the phase's tally is returned at the end).
func openLoop(ctx context.Context, f *fleet, rate float64, workers int, d, window time.Duration,
	next *atomic.Int64, onWindow func(*tally)) *tally {
	phase := newTally()
	var cur atomic.Pointer[tally]
	cur.Store(newTally())
	jobs := make(chan int64, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t0 := time.Now()
				kind, status, detail := f.do(ctx, i)
				d := time.Since(t0)
				phase.add(kind, status, d, detail)
				cur.Load().add(kind, status, d, detail)
			}
		}()
	}
	// Windows are reported from a goroutine of their own: a snapshot takes
	// a while, and the schedule must not wait for it.
	windows := make(chan *tally, 64)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		for w := range windows {
			if onWindow != nil {
				onWindow(w)
			}
		}
	}()
	start := time.Now()
	nextWindow := start.Add(window)
	var due int64
	for ctx.Err() == nil {
		now := time.Now()
		if now.Sub(start) >= d {
			break
		}
		for target := int64(now.Sub(start).Seconds() * rate); due < target; due++ {
			select {
			case jobs <- next.Add(1):
			default:
				phase.mu.Lock()
				phase.dropped++
				phase.mu.Unlock()
				cur.Load().mu.Lock()
				cur.Load().dropped++
				cur.Load().mu.Unlock()
			}
		}
		if !now.Before(nextWindow) {
			windows <- cur.Swap(newTally())
			nextWindow = nextWindow.Add(window)
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	close(windows)
	<-reported
	return phase
}
