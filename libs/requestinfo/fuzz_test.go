package requestinfo

import (
	"strings"
	"testing"
)

// FuzzForwardedClient: the audited client address is the right-most
// non-empty entry of X-Forwarded-For over all its lines — the one Envoy
// appended — never anything the client wrote to its left.
func FuzzForwardedClient(f *testing.F) {
	f.Add("10.9.8.7, 192.0.2.2", "")
	f.Add("10.9.8.7", "192.0.2.2")
	f.Add("192.0.2.2, ", " ,")
	f.Add("", "")
	f.Add(",,,", "::1")
	f.Add("[2001:db8::1]:443 , 203.0.113.9", "\t")
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		got := ForwardedClient(line1, line2)
		var want string
		for _, line := range []string{line1, line2} {
			for _, entry := range strings.Split(line, ",") {
				if e := strings.TrimSpace(entry); e != "" {
					want = e
				}
			}
		}
		if got != want {
			t.Fatalf("ForwardedClient(%q, %q) = %q, want %q", line1, line2, got, want)
		}
	})
}
