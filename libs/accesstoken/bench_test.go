package accesstoken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"syscall"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// BenchmarkVerify is the cost of a cache miss in authz's Check: verifying
// a token of the token service's shape (ES256, the default, and EdDSA).
//
//	go test -run XXX -bench Verify ./internal/token/
func BenchmarkVerify(b *testing.B) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keys := keySet{
		"ec": {ID: "ec", Alg: accesstoken.ES256, Public: &ec.PublicKey},
		"ed": {ID: "ed", Alg: accesstoken.EdDSA, Public: ed.Public()},
	}
	now := time.Now()
	v := accesstoken.New(accesstoken.Config{Keys: keys, Issuer: "http://127.0.0.1:8080", Audience: "agentidp", Skew: 30 * time.Second})
	claims := map[string]any{"iss": "http://127.0.0.1:8080", "sub": "0190c6e8-0000-7000-8000-000000000001",
		"aud": []string{"agentidp"}, "exp": now.Unix() + 900, "iat": now.Unix(), "jti": "n0Qh2X3tq1bBZ8m6o3ZkzA",
		"client_id": "0190c6e8-0000-7000-8000-000000000001", "scope": "agents:read tokens:introspect",
		"credential_id": "0190c6e8-0000-7000-8000-000000000002", "owner": "acme"}
	for _, tc := range []struct {
		alg string
		tok string
	}{
		{"ES256", sign(b, ec, map[string]any{"alg": "ES256", "kid": "ec", "typ": "at+jwt"}, claims)},
		{"EdDSA", sign(b, ed, map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"}, claims)},
	} {
		b.Run(tc.alg, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := v.Verify(ctx, tc.tok); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time (all threads, GC included) steadies the figure on
			// a machine whose load moves the wall-clock time.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is this process's CPU time (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
