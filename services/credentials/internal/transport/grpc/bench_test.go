package grpc_test

import (
	"context"
	"testing"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// BenchmarkVerifyClientSecret measures a successful verification against
// real PostgreSQL and Vault on 127.0.0.1, through the gRPC stack (over
// bufconn) and at the service itself:
//
//	go test -run '^$' -bench VerifyClientSecret ./internal/transport/grpc/
//
// vault-cached: the KV version's digest is in the in-process cache (one
// Postgres query); vault-uncached: the cache is off, so every call also
// reads the KV version from Vault; hash: the embedded mode (sha256$).
func BenchmarkVerifyClientSecret(b *testing.B) {
	v := testkit.NewVault(b)
	cached := newEnv(b, options{vault: v})
	uncached := newEnv(b, options{vault: v, dbURL: cached.dbURL, noCache: true, noFeed: true})
	hashed := newEnv(b, options{})
	vaultAgent := cached.newAgent("agents:read")
	vaultSecret := cached.create(vaultAgent, 0).GetClientSecret()
	hashAgent := hashed.newAgent("agents:read")
	hashSecret := hashed.create(hashAgent, 0).GetClientSecret()
	// Let the feed bring both agents into the projections (as in steady state).
	for _, w := range []struct {
		e     *env
		agent string
	}{{cached, vaultAgent}, {hashed, hashAgent}} {
		eventually(b, 5e9, func() error {
			a, err := w.e.store.ProjectedAgent(context.Background(), parseUUID(b, w.agent))
			if err == nil && a == nil {
				return errorf("agent not projected yet")
			}
			return err
		})
	}
	cases := []struct {
		name          string
		e             *env
		agent, secret string
	}{
		{"vault-cached", cached, vaultAgent, vaultSecret},
		{"vault-uncached", uncached, vaultAgent, vaultSecret},
		{"hash", hashed, hashAgent, hashSecret},
	}
	for _, c := range cases {
		c.e.wantValid(c.agent, c.secret)
		b.Run("grpc/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.e.verify(c.agent, c.secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("service/"+c.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.e.svc.Verify(ctx, c.agent, c.secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
