// Package machine describes the computer a benchmark or soak ran on (CPU,
// cores, memory, OS, Go, load), read from Linux's /proc and /etc/os-release.
package machine

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Info is what a reader needs to compare figures across machines.
type Info struct {
	CPU      string // model name
	Cores    int    // logical CPUs this process may use
	MemoryGB float64
	OS       string // distribution and kernel
	Go       string
	// Load is the 1, 5 and 15 minute load averages when Describe ran: above
	// Cores means other work competed with the measurement.
	Load [3]float64
}

// Describe reads the machine's description; fields it cannot read stay
// empty rather than failing the report.
func Describe() Info {
	info := Info{Cores: runtime.NumCPU(), Go: runtime.Version()}
	info.CPU = firstValue("/proc/cpuinfo", "model name", ":")
	if kb, err := strconv.ParseFloat(strings.Fields(firstValue("/proc/meminfo", "MemTotal", ":") + " 0")[0], 64); err == nil {
		info.MemoryGB = kb / (1 << 20)
	}
	info.OS = strings.Trim(firstValue("/etc/os-release", "PRETTY_NAME", "="), `"`)
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		info.OS = strings.TrimSpace(info.OS + ", Linux " + utsString(u.Release[:]))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		for i := 0; i < 3 && i < len(f); i++ {
			info.Load[i], _ = strconv.ParseFloat(f[i], 64)
		}
	}
	return info
}

// Busy reports whether the 5-minute load average exceeded the core count:
// the figures then measure a shared machine and are lower bounds.
func (i Info) Busy() bool { return i.Load[1] > float64(i.Cores) }

// String is one line for a report.
func (i Info) String() string {
	cpu := i.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d cores, %.1f GiB memory, %s, %s", cpu, i.Cores, i.MemoryGB, i.OS, i.Go)
}

// LoadString is the load averages, e.g. "3.12 2.80 2.51 (1/5/15 min)".
func (i Info) LoadString() string {
	return fmt.Sprintf("%.2f %.2f %.2f (1/5/15 min)", i.Load[0], i.Load[1], i.Load[2])
}

// firstValue returns the value of the first "key<sep>value" line of path.
func firstValue(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func utsString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}
