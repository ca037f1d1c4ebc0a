// Command benchreport collects the figures of `make bench` (scripts/bench.sh)
// into one table: it reads the benchmarks' output in Go's benchmark format
// (b.ReportMetric units such as tokens/s and p99-µs), prints the table with
// the machine's description, and writes it into docs/benchmarks.md between
// the bench-results markers.
//
//	benchreport -dir .dev/bench -doc docs/benchmarks.md -started 1700000000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/docsection"
	"github.com/sentryagent/agentidp/deploy/local/machine"
)

func main() {
	dir := flag.String("dir", ".dev/bench", "directory of benchmark outputs (*.txt) and the failed list")
	doc := flag.String("doc", "", "Markdown file whose bench-results section receives the table (none: print only)")
	started := flag.Int64("started", 0, "Unix time the suite started (for its duration)")
	note := flag.String("note", os.Getenv("BENCH_NOTE"), "a remark printed above the table")
	flag.Parse()
	if err := run(*dir, *doc, *note, *started); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(dir, doc, note string, started int64) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	runs := map[string][]result{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = parseBenchmarks(f, runs)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	results := map[string]result{}
	for name, rs := range runs {
		results[name] = median(rs)
	}
	failed := readLines(filepath.Join(dir, "failed"))

	table, met, targets, missing := markdownTable(results)
	section := header(machine.Describe(), note, started) + "\n" + table +
		fmt.Sprintf("\nTargets met: %d of %d.\n", met, targets)
	if len(failed) > 0 {
		section += "\nFailed benchmark runs (their logs were in the run's output directory):\n\n"
		for _, f := range failed {
			section += "- " + f + "\n"
		}
	}
	fmt.Println(section)
	if doc != "" {
		if err := docsection.Replace(doc, "bench-results", section); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "benchreport: wrote the results into", doc)
	}
	if len(missing) > 0 || len(failed) > 0 {
		return fmt.Errorf("%d benchmark run(s) failed; missing figures: %s", len(failed), strings.Join(missing, ", "))
	}
	return nil
}

// header says when, where and how busy: figures mean little without it.
func header(m machine.Info, note string, started int64) string {
	now := time.Now().UTC()
	var b strings.Builder
	fmt.Fprintf(&b, "Run: %s with `make bench`", now.Format("2006-01-02 15:04 MST"))
	if started > 0 {
		fmt.Fprintf(&b, " (the suite took %s)", now.Sub(time.Unix(started, 0)).Round(time.Second))
	}
	b.WriteString(".  \n")
	fmt.Fprintf(&b, "Machine: %s.  \n", m)
	fmt.Fprintf(&b, "Load average at the end of the run: %s", m.LoadString())
	if m.Busy() {
		fmt.Fprintf(&b, " — **busy machine**: other work shared the %d cores during the run, so these figures are lower bounds, not the system's capacity", m.Cores)
	}
	b.WriteString(".\n")
	if note != "" {
		fmt.Fprintf(&b, "\n**Note:** %s\n", note)
	}
	return b.String()
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}
