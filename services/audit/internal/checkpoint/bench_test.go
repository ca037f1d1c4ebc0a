package checkpoint_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
)

// What one checkpoint's signature costs: in Vault transit (an HTTP round
// trip to Vault on 127.0.0.1) and with a key file.
//
//	go test -run '^$' -bench Sign ./internal/checkpoint
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	file, err := checkpoint.LoadFileSigner(filepath.Join(b.TempDir(), "key.pem"), true)
	if err != nil {
		b.Fatal(err)
	}
	transit, err := checkpoint.NewTransitSigner(ctx, transitClient(b), "transit", "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name   string
		signer audit.Signer
	}{{"file", file}, {"transit", transit}} {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := audit.SignCheckpoint(ctx, s.signer, int64(i+1), make([]byte, 32), time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
