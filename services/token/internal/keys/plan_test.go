package keys

import (
	"testing"
	"time"
)

// TestPlanSchedule drives the rotation schedule with an injected clock over
// several intervals and checks its two promises at every step: a key signs
// only after it was published for Prepublish (the very first key excepted),
// and a key stays published for Retention after it stopped signing.
func TestPlanSchedule(t *testing.T) {
	p := Policy{Alg: ES256, Interval: 10 * time.Hour, Prepublish: time.Hour, Retention: 2 * time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var doc Doc
	published := map[string]time.Time{} // kid -> when it appeared in the doc
	lastSigned := map[string]time.Time{}
	first := ""
	for now := start; now.Before(start.Add(100 * time.Hour)); now = now.Add(7 * time.Minute) {
		next, _, err := Plan(doc, now, p)
		if err != nil {
			t.Fatal(err)
		}
		doc = next
		if len(doc.CacheKey) != 32 {
			t.Fatalf("cache key of %d bytes", len(doc.CacheKey))
		}
		present := map[string]bool{}
		for _, k := range doc.Keys {
			present[k.KID] = true
			if _, ok := published[k.KID]; !ok {
				published[k.KID] = now
			}
		}
		if len(doc.Keys) > 3 {
			t.Fatalf("%s: %d keys published", now, len(doc.Keys))
		}
		set, err := NewSet(doc)
		if err != nil {
			t.Fatal(err)
		}
		signer := set.Signing(now).KID
		if first == "" {
			first = signer
		}
		if signer != first && now.Sub(published[signer]) < p.Prepublish {
			t.Fatalf("%s: key %s signs %s after it was published", now, signer, now.Sub(published[signer]))
		}
		lastSigned[signer] = now
		for kid, last := range lastSigned {
			if !present[kid] && now.Sub(last) < p.Retention {
				t.Fatalf("%s: key %s withdrawn %s after it last signed", now, kid, now.Sub(last))
			}
		}
	}
	if len(lastSigned) < 9 {
		t.Fatalf("only %d keys signed in 100h with a 10h interval", len(lastSigned))
	}
}

// TestPlanAfterOutage: a store untouched for longer than the interval
// never makes a replica sign with a key nobody could have fetched yet.
func TestPlanAfterOutage(t *testing.T) {
	p := Policy{Alg: ES256, Interval: time.Hour, Prepublish: 10 * time.Minute, Retention: 20 * time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	doc, _, err := Plan(Doc{}, t0, p)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(30 * time.Hour)
	doc, changed, err := Plan(doc, later, p)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("%d keys", len(doc.Keys))
	}
	if got := doc.Keys[1].ActiveFrom; got.Before(later.Add(p.Prepublish)) {
		t.Fatalf("next key active from %s, before %s", got, later.Add(p.Prepublish))
	}
	set, _ := NewSet(doc)
	if set.Signing(later).KID != doc.Keys[0].KID {
		t.Fatal("the old key must keep signing until its successor was published long enough")
	}
	// Unchanged input, unchanged output: replicas agree.
	if _, changed, _ := Plan(doc, later, p); changed {
		t.Fatal("a second plan at the same instant changed the doc")
	}
}

func TestSetJWKSAndAlgorithms(t *testing.T) {
	now := time.Now()
	es, err := Generate(ES256, now.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := Generate(EdDSA, now, now)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(Doc{CacheKey: make([]byte, 32), Keys: []StoredKey{es, ed}})
	if err != nil {
		t.Fatal(err)
	}
	if set.Signing(now).KID != ed.KID || set.Signing(now.Add(-time.Minute)).KID != es.KID {
		t.Fatal("wrong signing key")
	}
	if _, ok := set.Lookup(es.KID); !ok {
		t.Fatal("lookup")
	}
	if set.ETag() == "" || len(set.JWKS()) == 0 {
		t.Fatal("empty JWKS")
	}
	if _, err := NewSet(Doc{Keys: []StoredKey{ed, es}}); err == nil {
		t.Fatal("unsorted keys accepted")
	}
	bad := es
	bad.Alg = EdDSA
	if _, err := NewSet(Doc{Keys: []StoredKey{bad}}); err == nil {
		t.Fatal("a key whose type contradicts its alg was accepted")
	}
}

// TestPlanStopped: with another signer (Policy.Alg ""), the stored keys are
// kept for Retention after the switch, then withdrawn; the cache key stays;
// switching back signs with a stored key again.
func TestPlanStopped(t *testing.T) {
	p := Policy{Alg: ES256, Interval: 10 * time.Hour, Prepublish: time.Hour, Retention: 2 * time.Hour}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	doc, _, err := Plan(Doc{}, now, p)
	if err != nil {
		t.Fatal(err)
	}
	cache := string(doc.CacheKey)
	stopped := p
	stopped.Alg = ""
	switchAt := now.Add(time.Hour)
	doc, changed, err := Plan(doc, switchAt, stopped)
	if err != nil || !changed || doc.SigningStoppedAt == nil || !doc.SigningStoppedAt.Equal(switchAt) || len(doc.Keys) != 1 {
		t.Fatalf("at the switch: changed %v, %+v, %v", changed, doc, err)
	}
	// Long after the key's own rotation would have been due: no new key.
	doc, changed, err = Plan(doc, switchAt.Add(p.Retention-time.Second), stopped)
	if err != nil || changed || len(doc.Keys) != 1 {
		t.Fatalf("within retention: changed %v, %d keys, %v", changed, len(doc.Keys), err)
	}
	doc, changed, err = Plan(doc, switchAt.Add(p.Retention), stopped)
	if err != nil || !changed || len(doc.Keys) != 0 || doc.SigningStoppedAt != nil || string(doc.CacheKey) != cache {
		t.Fatalf("after retention: changed %v, %+v, %v", changed, doc, err)
	}
	doc, changed, err = Plan(doc, switchAt.Add(3*p.Retention), p)
	if err != nil || !changed || len(doc.Keys) != 1 || string(doc.CacheKey) != cache {
		t.Fatalf("back to stored keys: changed %v, %+v, %v", changed, doc, err)
	}
}
