package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// KeepTokenAlive renews the signer's Vault token with the Vault client's
// LifetimeWatcher while it is renewable (a periodic token expires after
// its period without renewals, and signing would then fail), until ctx
// ends. A token that is not renewable (root, or a batch token) is used as
// it is. When renewal stops (max TTL reached, revoked) it logs and looks
// again 30 s later, so a token an operator extends is picked up. (The
// credentials service does the same for its KV token.)
func KeepTokenAlive(ctx context.Context, client *vault.Client, logger *slog.Logger) error {
	for ctx.Err() == nil {
		if err := watchToken(ctx, client, logger); err != nil {
			logger.Error("vault token renewal stopped: checkpoints fail once the token expires", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
		}
	}
	return nil
}

func watchToken(ctx context.Context, client *vault.Client, logger *slog.Logger) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	self, err := client.Auth().Token().LookupSelfWithContext(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("lookup-self: %w", err)
	}
	renewable, _ := self.TokenIsRenewable()
	ttl, _ := self.TokenTTL()
	if !renewable || ttl == 0 {
		logger.Info("the checkpoint signer's vault token is not renewable; it is used as is", "ttl", ttl.String())
		<-ctx.Done()
		return nil
	}
	w, err := client.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: &vault.Secret{Auth: &vault.SecretAuth{
		ClientToken: client.Token(), Renewable: true, LeaseDuration: int(ttl.Seconds()),
	}}})
	if err != nil {
		return err
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.DoneCh():
			if err == nil {
				err = errors.New("the token cannot be renewed any further (max TTL)")
			}
			return err
		case <-w.RenewCh():
		}
	}
}
