package credential

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// Migrating Vault entries written before verifiers. Such a KV version holds
// the secret itself ("client_secret"). KV versions are immutable, so a
// migration adds a KV version holding the verifier (check-and-set on the
// path's current version, like a rotation), makes the secret version
// reference it, and then destroys the old version's data. The secret
// version keeps its number, its times and its events: the credential's
// history (secret versions in Postgres, the change feed) is unchanged;
// only the KV version a secret version points at moves. The KV path's
// version history therefore keeps one destroyed version per migrated
// secret version, which records that a migration happened.
//
// The Postgres part runs under the credential's row lock and only when the
// credential has no pending row or version: rotations (BeginRotation,
// CompleteRotation) and the reconciler (UndoPendingRotation) take the same
// lock, so none of them can interleave with the write or see the new KV
// version unreferenced. If the transaction fails after the write, the new
// KV version is an unreferenced verifier: harmless, and the next migration
// attempt writes another one. If the destroy after the commit fails, the
// old plaintext version is unreferenced; the operator command destroys it.

// MigrationReport counts what MigrateVault did.
type MigrationReport struct {
	Credentials int // credentials held in Vault that were examined
	Migrated    int // secret versions moved from a plaintext KV version to a verifier
	Verifiers   int // secret versions already referencing a verifier
	Destroyed   int // KV versions holding a secret that no secret version references, destroyed
	Missing     int // secret versions whose KV version has no data (destroyed or deleted)
	Skipped     int // secret versions that changed while migrating (retried at the next run)
	Failed      int // credentials that could not be examined (see the error)
}

// migrateOnVerify migrates the KV version of the secret version that just
// verified. A failure only delays the migration: the legacy version keeps
// verifying (and is not cached), and the next verification retries.
func (s *Service) migrateOnVerify(ctx context.Context, c Credential, v Verifier, d secret.Digest) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.vaultTimeout)
	defer cancel()
	moved, err := s.migrateVersion(mctx, c.AgentID, c.ID, v.Version, v.VaultVersion, d)
	if err != nil {
		s.logger.Warn("migrating a Vault secret to a verifier failed; retried at the next verification",
			"credential_id", c.ID, "version", v.Version, "error", err)
		return
	}
	if moved {
		s.metrics.VaultMigrated.WithLabelValues("verify").Inc()
		s.logger.Info("Vault secret replaced by its verifier", "credential_id", c.ID, "version", v.Version)
	}
}

// migrateVersion moves secret version `version` from KV version `from` (a
// legacy one with digest d) to a new KV version holding the verifier, then
// destroys `from`.
func (s *Service) migrateVersion(ctx context.Context, aid, cid uuid.UUID, version, from int64, d secret.Digest) (bool, error) {
	var to int64
	moved, err := s.store.MoveVaultVersion(ctx, cid, version, from, func(ctx context.Context) (int64, error) {
		current, _, err := s.vault.Versions(ctx, aid, cid)
		if err != nil {
			return 0, err
		}
		to, err = s.vault.Write(ctx, aid, cid, d, current)
		return to, err
	})
	if err != nil || !moved {
		return false, err
	}
	s.cache.Put(cid, to, d)
	if err := s.vault.Destroy(ctx, aid, cid, []int64{from}); err != nil {
		return true, fmt.Errorf("the secret version now references a verifier, but destroying the old KV version %d failed (run `credentials vault-secrets migrate`): %w", from, err)
	}
	return true, nil
}

// MigrateVault walks every committed credential held in Vault and replaces
// each KV version that holds a secret: one that a secret version references
// is migrated (migrateVersion); one that none references (history left by a
// failed destroy, or by requests that never committed) is destroyed. It is
// idempotent: a second run finds only verifiers. dryRun only counts.
func (s *Service) MigrateVault(ctx context.Context, dryRun bool) (MigrationReport, error) {
	var r MigrationReport
	if s.vault == nil {
		return r, errors.New("VAULT_ADDR is not set: there is nothing in Vault to migrate")
	}
	var errs []error
	after := uuid.Nil
	for {
		page, err := s.store.VaultCredentials(ctx, after, 100)
		if err != nil {
			return r, err
		}
		for _, vc := range page {
			r.Credentials++
			if err := s.migrateCredential(ctx, vc, dryRun, &r); err != nil {
				r.Failed++
				errs = append(errs, fmt.Errorf("credential %s: %w", vc.ID, err))
			}
		}
		if len(page) < 100 {
			return r, errors.Join(errs...)
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) migrateCredential(ctx context.Context, vc VaultCredential, dryRun bool, r *MigrationReport) error {
	ctx, cancel := context.WithTimeout(ctx, 10*s.vaultTimeout)
	defer cancel()
	referenced := map[int64]bool{}
	versions := make([]int64, 0, len(vc.Versions))
	for v, kv := range vc.Versions {
		referenced[kv] = true
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		kv := vc.Versions[v]
		d, legacy, err := s.vault.ReadDigest(ctx, vc.AgentID, vc.ID, kv)
		switch {
		case errors.Is(err, ErrSecretGone):
			r.Missing++
			continue
		case err != nil:
			return err
		case !legacy:
			r.Verifiers++
			continue
		case dryRun:
			r.Migrated++
			continue
		}
		moved, err := s.migrateVersion(ctx, vc.AgentID, vc.ID, v, kv, d)
		if moved {
			r.Migrated++
			s.metrics.VaultMigrated.WithLabelValues("command").Inc()
		} else if err == nil {
			r.Skipped++
		}
		if err != nil {
			return err
		}
	}
	// Whatever else holds a secret under the path is referenced by no
	// committed secret version: destroy it.
	_, live, err := s.vault.Versions(ctx, vc.AgentID, vc.ID)
	if err != nil {
		return err
	}
	for _, kv := range live {
		if referenced[kv] {
			continue
		}
		_, legacy, err := s.vault.ReadDigest(ctx, vc.AgentID, vc.ID, kv)
		if errors.Is(err, ErrSecretGone) || (err == nil && !legacy) {
			continue
		}
		if err != nil {
			return err
		}
		if !dryRun {
			if err := s.vault.Destroy(ctx, vc.AgentID, vc.ID, []int64{kv}); err != nil {
				return err
			}
		}
		r.Destroyed++
	}
	return nil
}
