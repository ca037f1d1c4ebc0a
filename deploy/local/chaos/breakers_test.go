package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The services whose gRPC clients go through libs/grpcclient's breakers and
// export agentidp_grpc_client_breaker_state{dependency} (0 closed, 1
// half-open, 2 open).
var breakerServices = []string{"token", "authz", "credentials"}

var breakerLine = regexp.MustCompile(`^agentidp_grpc_client_breaker_state\{dependency="([^"]+)"\} ([0-9.e+]+)$`)

const (
	closed   = 0
	halfOpen = 1
	open     = 2
)

var stateNames = map[int]string{closed: "closed", halfOpen: "half-open", open: "open"}

// transition is a change of one breaker's state seen by the sampler.
type transition struct {
	at       time.Time
	breaker  string // "token→credentials"
	from, to int
}

// breakerWatch scrapes every breaker every 200ms and records transitions.
// A process that restarts starts with closed breakers: that is a reset, not
// a transition.
type breakerWatch struct {
	targets map[string]string // service → admin address
	hc      *http.Client

	mu          sync.Mutex
	state       map[string]int // breaker → last state seen
	transitions []transition
	stop        chan struct{}
	done        chan struct{}
}

func watchBreakers(targets map[string]string) *breakerWatch {
	w := &breakerWatch{targets: targets, hc: &http.Client{Timeout: time.Second},
		state: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *breakerWatch) close() {
	close(w.stop)
	<-w.done
}

func (w *breakerWatch) sample() {
	for svc, addr := range w.targets {
		states, err := w.scrape(addr)
		now := time.Now()
		w.mu.Lock()
		if err != nil {
			// Down: its breakers start closed when it comes back.
			for dep := range w.state {
				if serviceOf(dep) == svc {
					delete(w.state, dep)
				}
			}
		}
		for dep, s := range states {
			key := svc + "→" + dep
			prev, known := w.state[key]
			if known && prev != s {
				w.transitions = append(w.transitions, transition{at: now, breaker: key, from: prev, to: s})
			}
			w.state[key] = s
		}
		w.mu.Unlock()
	}
}

func serviceOf(breaker string) string {
	for i, r := range breaker {
		if r == '→' {
			return breaker[:i]
		}
	}
	return breaker
}

func (w *breakerWatch) scrape(addr string) (map[string]int, error) {
	resp, err := w.hc.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := breakerLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = int(v)
		}
	}
	return out, sc.Err()
}

// notClosed lists the breakers not closed at the last sample.
func (w *breakerWatch) notClosed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, s := range w.state {
		if s != closed {
			out = append(out, fmt.Sprintf("%s %s", k, stateNames[s]))
		}
	}
	sort.Strings(out)
	return out
}

// opened lists the breakers open at the last sample.
func (w *breakerWatch) opened() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, s := range w.state {
		if s == open {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// between returns the transitions seen in [from, to).
func (w *breakerWatch) between(from, to time.Time) []transition {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []transition
	for _, t := range w.transitions {
		if !t.at.Before(from) && t.at.Before(to) {
			out = append(out, t)
		}
	}
	return out
}
