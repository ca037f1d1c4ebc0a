package main

import (
	"bufio"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is one benchmark's figures: iterations and b.ReportMetric values
// by unit ("tokens/s", "p99-µs", ...). With -count > 1, the median of each.
type result struct {
	N       int
	Metrics map[string]float64
}

// procsSuffix is the -GOMAXPROCS suffix Go appends to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBenchmarks reads Go's benchmark format (golang.org/design/14313):
// result lines are "BenchmarkName-P N value unit [value unit ...]"; every
// other line (logs, PASS, configuration) is skipped.
func parseBenchmarks(r io.Reader, into map[string][]result) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		res := result{N: n, Metrics: map[string]float64{}}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			res.Metrics[f[i+1]] = v
		}
		if ok {
			name := procsSuffix.ReplaceAllString(f[0], "")
			into[name] = append(into[name], res)
		}
	}
	return sc.Err()
}

// median folds repeated runs of one benchmark into one result.
func median(runs []result) result {
	if len(runs) == 1 {
		return runs[0]
	}
	out := result{N: runs[len(runs)-1].N, Metrics: map[string]float64{}}
	for unit := range runs[0].Metrics {
		var vs []float64
		for _, r := range runs {
			if v, ok := r.Metrics[unit]; ok {
				vs = append(vs, v)
			}
		}
		slices.Sort(vs)
		out.Metrics[unit] = vs[len(vs)/2]
	}
	return out
}
