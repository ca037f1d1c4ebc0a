package chaos

import (
	"sync"
	"time"
)

// stallWatch notices when this test process was not running: a goroutine
// sleeps 20 ms at a time and records every sleep that took over a second.
// On the shared 2-core VM (other engineers' builds, fuzzers, benchmarks,
// and the hypervisor's steal time) the whole machine sometimes stops for
// seconds; the client's timers then fire late, all at once, and requests
// that Envoy answered in time look hung, and Envoy's own 5 s upstream
// timeout fires on services that were not scheduled. Such a timeout is
// reported, not counted as a fault of the mesh: it overlapped a stall.
type stallWatch struct {
	mu     sync.Mutex
	stalls [][2]time.Time
	stop   chan struct{}
	done   chan struct{}
}

const stallThreshold = time.Second

func watchStalls() *stallWatch {
	w := &stallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		last := time.Now()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			now := time.Now()
			if now.Sub(last) > stallThreshold {
				w.mu.Lock()
				w.stalls = append(w.stalls, [2]time.Time{last, now})
				w.mu.Unlock()
			}
			last = now
		}
	}()
	return w
}

func (w *stallWatch) close() {
	close(w.stop)
	<-w.done
}

// during returns the longest stall that overlapped [from, to], or 0.
func (w *stallWatch) during(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var longest time.Duration
	for _, s := range w.stalls {
		if s[0].Before(to) && s[1].After(from) && s[1].Sub(s[0]) > longest {
			longest = s[1].Sub(s[0])
		}
	}
	return longest
}

// all returns every stall seen.
func (w *stallWatch) all() [][2]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][2]time.Time(nil), w.stalls...)
}
