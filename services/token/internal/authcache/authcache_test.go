package authcache

import (
	"reflect"
	"testing"
	"time"
)

func TestCodecs(t *testing.T) {
	e := Entry{CredentialID: "c1", CredGen: 42, VerifiedAt: time.UnixMilli(1700000000123),
		ValidUntil: time.UnixMilli(1700000999000), AgentStatus: "active", Scopes: []string{"a:b", "c"},
		Owner: "team|a b"}
	got, ok := DecodeEntry(EncodeEntry(e))
	if !ok || !reflect.DeepEqual(got, e) {
		t.Fatalf("entry round trip: %+v", got)
	}
	e.ValidUntil, e.Scopes = time.Time{}, nil
	if got, ok := DecodeEntry(EncodeEntry(e)); !ok || !got.ValidUntil.IsZero() || len(got.Scopes) != 0 {
		t.Fatalf("entry without expiry: %+v", got)
	}
	for _, bad := range []string{"", "e1|x", "e2|c|1|2|3|active|", "e2|c|x|2|3|active||o",
		"e1|c|1|2|3|active|a:b"} { // the format before owners: not cached
		if _, ok := DecodeEntry(bad); ok {
			t.Errorf("%q decoded", bad)
		}
	}
	a := Agent{Sequence: 7, Status: "suspended", Scopes: []string{"x"}, Owner: "team a|b", RevokedThrough: 1700000000}
	if got, ok := DecodeAgent(EncodeAgent(a)); !ok || !reflect.DeepEqual(got, a) {
		t.Fatalf("agent round trip: %+v", got)
	}
	if _, ok := DecodeAgent("7|active|x"); ok {
		t.Fatal("a record of the format before owners decoded")
	}
}
