package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/authz/internal/jwks"
)

func TestParseKeepsOnlyPublicSignatureKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &ec.PublicKey, KeyID: "ec", Algorithm: "ES256", Use: "sig"},
		{Key: pub, KeyID: "ed"},
		{Key: &ec.PublicKey, KeyID: "ec-as-hs", Algorithm: "HS256"},
		{Key: &ec.PublicKey, KeyID: "enc", Use: "enc"},
		{Key: &ec384.PublicKey, KeyID: "p384"},
		{Key: &rsaKey.PublicKey, KeyID: "rsa"},
		{Key: ec, KeyID: "private"},
		{Key: []byte("secret"), KeyID: "oct"},
		{Key: &ec.PublicKey},
	}}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwks.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	kids := map[string]string{}
	for _, kid := range s.KIDs() {
		k, _ := s.Lookup(kid)
		kids[kid] = k.Alg
	}
	if len(kids) != 2 || kids["ec"] != accesstoken.ES256 || kids["ed"] != accesstoken.EdDSA {
		t.Fatalf("kept %v", kids)
	}
}

// jwksServer serves a JWKS that the test can change, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetches atomic.Int64
	srv     *httptest.Server
}

func newServer(t *testing.T, maxAge string) *jwksServer {
	s := &jwksServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if maxAge != "" {
			w.Header().Set("Cache-Control", "public, max-age="+maxAge)
		}
		_ = json.NewEncoder(w).Encode(s.set)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) publish(kids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.Keys = nil
	for _, kid := range kids {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s.set.Keys = append(s.set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256"})
	}
}

func TestUnknownKidRefreshesWithAFloor(t *testing.T) {
	srv := newServer(t, "")
	srv.publish("a")
	var removed []string
	c := jwks.New(jwks.Config{URL: srv.srv.URL, MinRefresh: 300 * time.Millisecond,
		OnChange: func(kids []string) { removed = append(removed, kids...) }})
	if c.Current() != nil {
		t.Fatal("keys before the first fetch")
	}
	if err := c.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok := c.LookupOrRefresh(ctx, "a"); !ok || srv.fetches.Load() != 1 {
		t.Fatal("known kid")
	}
	// Unknown kids do not refetch within the floor...
	for i := 0; i < 20; i++ {
		c.LookupOrRefresh(ctx, "random")
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the floor", n)
	}
	// ...and after it, a new key is found at once.
	srv.publish("b")
	time.Sleep(350 * time.Millisecond)
	if _, ok := c.LookupOrRefresh(ctx, "b"); !ok {
		t.Fatal("new key not found after the floor")
	}
	if len(removed) != 1 || removed[0] != "a" {
		t.Fatalf("withdrawn keys reported: %v", removed)
	}
}

func TestRunRefreshesOnMaxAge(t *testing.T) {
	srv := newServer(t, "1")
	srv.publish("a")
	c := jwks.New(jwks.Config{URL: srv.srv.URL, Refresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	srv.publish("b")
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, ok := c.Lookup("b"); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("max-age=1 did not cause a refresh")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
