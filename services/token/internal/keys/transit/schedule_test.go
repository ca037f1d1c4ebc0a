package transit

import (
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// TestScheduleFromCreationTimes drives the schedule the replicas derive
// from transit's creation times with a simulated clock over ten rotations,
// rotating whenever due says so, and checks at every step what
// keys.Plan promises for stored keys: a version signs only after it has
// been published for Prepublish (the very first excepted), it stays
// published for Retention after it stopped signing, and the JWKS holds at
// most three versions.
func TestScheduleFromCreationTimes(t *testing.T) {
	p := keys.Policy{Interval: 10 * time.Hour, Prepublish: time.Hour, Retention: 2 * time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := []version{{n: 1, created: start}} // what Vault holds: every version
	published := map[int]time.Time{}
	lastSigned := map[int]time.Time{}
	rotations := 0
	for now := start; now.Before(start.Add(100 * time.Hour)); now = now.Add(7 * time.Minute) {
		vs := append([]version(nil), all...)
		schedule(vs, p.Prepublish)
		if due(vs, now, p) {
			all = append(all, version{n: len(all) + 1, created: now})
			rotations++
			vs = append([]version(nil), all...)
			schedule(vs, p.Prepublish)
		}
		vs = retain(vs, now, p.Retention)
		if len(vs) > 3 {
			t.Fatalf("%s: %d versions published", now, len(vs))
		}
		present := map[int]bool{}
		for _, v := range vs {
			present[v.n] = true
			if _, ok := published[v.n]; !ok {
				published[v.n] = now
			}
		}
		// The signing version: the latest whose activeFrom has come.
		signer := vs[0].n
		for _, v := range vs {
			if !v.activeFrom.After(now) {
				signer = v.n
			}
		}
		if signer != 1 && now.Sub(published[signer]) < p.Prepublish {
			t.Fatalf("%s: version %d signs %s after it was published", now, signer, now.Sub(published[signer]))
		}
		lastSigned[signer] = now
		for n, last := range lastSigned {
			if !present[n] && now.Sub(last) < p.Retention {
				t.Fatalf("%s: version %d withdrawn %s after its last token", now, n, now.Sub(last))
			}
		}
	}
	if rotations < 9 {
		t.Fatalf("%d rotations in 100 h with a 10 h interval", rotations)
	}
}

// TestScheduleAfterOutage: a version created long after it was due (the
// service was down) is still published for Prepublish before it signs.
func TestScheduleAfterOutage(t *testing.T) {
	p := keys.Policy{Interval: 10 * time.Hour, Prepublish: time.Hour, Retention: 2 * time.Hour}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vs := []version{{n: 1, created: t0}}
	now := t0.Add(30 * time.Hour)
	schedule(vs, p.Prepublish)
	if !due(vs, now, p) {
		t.Fatal("not due after three intervals")
	}
	vs = append(vs, version{n: 2, created: now})
	schedule(vs, p.Prepublish)
	if got := vs[1].activeFrom; !got.Equal(now.Add(p.Prepublish)) {
		t.Fatalf("version 2 signs from %s, want %s", got, now.Add(p.Prepublish))
	}
	if kept := retain(vs, now.Add(p.Prepublish+p.Retention-time.Second), p.Retention); len(kept) != 2 {
		t.Fatalf("version 1 withdrawn before its retention ended: %d kept", len(kept))
	}
	if kept := retain(vs, now.Add(p.Prepublish+p.Retention), p.Retention); len(kept) != 1 || kept[0].n != 2 {
		t.Fatalf("after retention: %+v", kept)
	}
}
