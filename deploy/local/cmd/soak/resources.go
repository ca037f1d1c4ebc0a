package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// usage is one process's resources at one moment, with its descendants:
// PostgreSQL's postmaster with its backends.
type usage struct {
	Procs int
	// RSSKiB counts private resident memory (RssAnon + RssFile) of every
	// process in the tree plus the largest shared part (RssShmem) once:
	// PostgreSQL's backends each map the same shared buffers, and summing
	// VmRSS would count them once per backend.
	RSSKiB  int64
	FDs     int
	Sockets int
	// Goroutines is go_goroutines from /metrics (-1: not a Go service, or
	// the scrape failed).
	Goroutines int
	// HeapLiveKiB estimates the Go heap that survived the last collection:
	// the heap goal (go_memstats_next_gc_bytes) over 1 + GOGC/100
	// (go_gc_gogc_percent). RSS follows the goal, so with GOGC=400 (authz)
	// it moves five times as much as this. -1: unknown.
	HeapLiveKiB int64
}

// snapshot is every process of the stack at one moment.
type snapshot struct {
	At      time.Time
	ByName  map[string]usage
	PGConns int // client backends in pg_stat_activity (-1: unknown)
}

// takeSnapshot reads /proc for each process and its descendants, scrapes the Go
// services' /metrics and counts PostgreSQL's client connections.
func takeSnapshot(ctx context.Context, procs []stack.ProcessInfo, pgURL string) snapshot {
	snap := snapshot{At: time.Now(), ByName: map[string]usage{}, PGConns: -1}
	trees := processTrees()
	for _, p := range procs {
		u := usage{Goroutines: -1, HeapLiveKiB: -1}
		var maxShmem int64
		for _, pid := range trees[p.PID] {
			st := readStatus(pid)
			if st == nil {
				continue
			}
			u.Procs++
			u.RSSKiB += st["RssAnon"] + st["RssFile"]
			maxShmem = max(maxShmem, st["RssShmem"])
			fds, socks := countFDs(pid)
			u.FDs += fds
			u.Sockets += socks
		}
		u.RSSKiB += maxShmem
		if p.MetricsAddr != "" {
			u.Goroutines, u.HeapLiveKiB = scrapeGo(ctx, p.MetricsAddr)
		}
		snap.ByName[p.Name] = u
	}
	snap.PGConns = postgresConnections(ctx, pgURL)
	return snap
}

// processTrees maps each process id to itself and its descendants, from
// the parent ids in /proc/PID/stat. (Not process groups: PostgreSQL's
// backends call setsid and leave the postmaster's group.)
func processTrees() map[int][]int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the parenthesised command name: state, ppid, ...
		end := strings.LastIndexByte(string(stat), ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			parent[pid] = ppid
		}
	}
	out := map[int][]int{}
	for pid := range parent {
		for q, depth := pid, 0; q > 1 && depth < 32; q, depth = parent[q], depth+1 {
			out[q] = append(out[q], pid)
		}
	}
	return out
}

// readStatus returns the kB fields of /proc/PID/status (VmRSS, RssAnon, ...).
func readStatus(pid int) map[string]int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			n, _ := strconv.ParseInt(fields[0], 10, 64)
			out[k] = n
		}
	}
	return out
}

// countFDs counts a process's open file descriptors and, of those, sockets.
func countFDs(pid int) (fds, sockets int) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		fds++
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			sockets++
		}
	}
	return fds, sockets
}

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// scrapeGo reads a Go process's /metrics: its goroutines and an estimate
// of its live heap (see usage.HeapLiveKiB); -1 for what it lacks.
func scrapeGo(ctx context.Context, addr string) (goroutines int, heapLiveKiB int64) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return -1, -1
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	values := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		switch name {
		case "go_goroutines", "go_memstats_next_gc_bytes", "go_gc_gogc_percent":
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil {
				values[name] = f
			}
		}
	}
	goroutines, heapLiveKiB = -1, -1
	if v, ok := values["go_goroutines"]; ok {
		goroutines = int(v)
	}
	goal, ok1 := values["go_memstats_next_gc_bytes"]
	gogc, ok2 := values["go_gc_gogc_percent"]
	if ok1 && ok2 && gogc > 0 {
		heapLiveKiB = int64(goal / (1 + gogc/100) / 1024)
	}
	return goroutines, heapLiveKiB
}

// postgresConnections counts client connections to PostgreSQL other than
// the one asking.
func postgresConnections(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return -1
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// saveProfiles writes each Go service's heap profile to dir/NAME-when.pb.gz
// (compare them with go tool pprof -diff_base); nothing when dir is empty.
func saveProfiles(ctx context.Context, dir string, procs []stack.ProcessInfo, when string) {
	if dir == "" {
		return
	}
	for _, p := range procs {
		if p.MetricsAddr == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.MetricsAddr+"/debug/pprof/heap", nil)
		if err != nil {
			continue
		}
		resp, err := scrapeClient.Do(req)
		if err != nil {
			continue
		}
		if resp.StatusCode == http.StatusOK {
			if b, err := io.ReadAll(resp.Body); err == nil {
				_ = os.WriteFile(filepath.Join(dir, p.Name+"-"+when+".pb.gz"), b, 0o644)
			}
		}
		resp.Body.Close()
	}
}
