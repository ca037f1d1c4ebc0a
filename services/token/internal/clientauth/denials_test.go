package clientauth

import (
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

func TestDenials(t *testing.T) {
	d := newDenials()
	now := time.Now()
	if b, w := d.check("c", "10.0.0.1", now); w != 0 || b != "" {
		t.Fatalf("refused out of nothing: %s %v", b, w)
	}
	d.add(pairKey("c", "10.0.0.1"), now, 2*time.Second)
	d.add(sourceOnlyKey("10.0.0.9"), now, time.Second)
	d.add(pairKey("c", "10.0.0.2"), now, 0) // not empty: nothing to remember
	for _, tt := range []struct {
		client, source string
		at             time.Duration
		bucket         authcache.Bucket
		wait           time.Duration
	}{
		{"c", "10.0.0.1", 0, authcache.BucketClientSource, 2 * time.Second},
		{"c", "10.0.0.1", 1500 * time.Millisecond, authcache.BucketClientSource, 500 * time.Millisecond},
		{"c", "10.0.0.1", 2 * time.Second, "", 0},
		{"other", "10.0.0.1", 0, "", 0}, // another client from the same address
		{"c", "10.0.0.2", 0, "", 0},     // the client from another address
		{"anyone", "10.0.0.9", 0, authcache.BucketSource, time.Second},
		{"anyone", "10.0.0.9", time.Second, "", 0},
	} {
		if b, w := d.check(tt.client, tt.source, now.Add(tt.at)); b != tt.bucket || w != tt.wait {
			t.Errorf("%s from %s at +%v: %q %v, want %q %v", tt.client, tt.source, tt.at, b, w, tt.bucket, tt.wait)
		}
	}
	// A shorter denial never shortens a longer one.
	d.add(pairKey("c", "10.0.0.3"), now, 3*time.Second)
	d.add(pairKey("c", "10.0.0.3"), now, time.Second)
	if _, w := d.check("c", "10.0.0.3", now); w != 3*time.Second {
		t.Fatalf("denial shortened to %v", w)
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::/64", // same /64, same bucket
		"fe80::1%eth0":              "fe80::/64",
		"":                          "",
		"not-an-address":            "not-an-address",
		"2001:db8:1:3:3:4:5:6":      "2001:db8:1:3::/64",
		"::1":                       "::/64",
		"127.0.0.2":                 "127.0.0.2",
		"2001:0db8:0001:0002::0001": "2001:db8:1:2::/64",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownClients(t *testing.T) {
	u := newUnknownClients(2, 200*time.Millisecond)
	gen := u.generation()
	u.add("a", gen)
	if !u.has("a") || u.has("b") {
		t.Fatal("membership")
	}
	// An id forgotten (an event about it) leaves at once, and a lookup
	// that started before the event does not store its conclusion.
	gen = u.generation()
	u.forget("a")
	u.add("b", gen)
	if u.has("a") || u.has("b") {
		t.Fatal("forget: an id stayed, or a stale conclusion was stored")
	}
	// Bounded in size and in time.
	gen = u.generation()
	u.add("x", gen)
	u.add("y", gen)
	u.add("z", gen)
	if u.has("x") || !u.has("y") || !u.has("z") {
		t.Fatal("size bound: the oldest id should be gone")
	}
	time.Sleep(250 * time.Millisecond)
	if u.has("y") || u.has("z") {
		t.Fatal("ids outlived their TTL")
	}
}
