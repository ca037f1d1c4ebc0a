// `audit public-key`: the checkpoint signer's public keys, for auditors.

package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/services/audit/internal/app"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
)

// publicKey prints the public keys of the configured checkpoint signer
// (every version of a transit key), for auditors to keep outside
// PostgreSQL and pass to `audit verify -public-key`.
func publicKey() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load[app.SignerConfig]()
	if err != nil {
		return err
	}
	signer, err := app.NewSigner(ctx, cfg)
	if err != nil {
		return err
	}
	if signer == nil {
		return errors.New("no checkpoint signer: set AUDIT_CHECKPOINT_TRANSIT_KEY (with AUDIT_CHECKPOINT_VAULT_ADDR, AUDIT_CHECKPOINT_VAULT_TOKEN) or AUDIT_CHECKPOINT_KEY_FILE")
	}
	keys, err := signer.PublicKeys(ctx)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		b, err := checkpoint.PublicKeyPEM(keys[id])
		if err != nil {
			return err
		}
		fmt.Printf("# key id %s\n%s", id, b)
	}
	return nil
}
