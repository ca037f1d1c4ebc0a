package credential

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The reconciler finishes what a request left half-done. A request commits
// a pending row before it writes to Vault and activates the row only after
// the write succeeded; if Vault or Postgres fails in between, or the
// process dies, a pending row remains. Since the client never received the
// secret, the reconciler undoes it: it removes what may have reached Vault
// (the whole path of a pending credential; the KV versions above those
// that committed versions reference, for a pending rotation), then deletes
// the pending row. A pending row is left alone for PendingTimeout, longer
// than any request can still be writing to Vault, so an undo never races
// a write in flight.

// Reconcile undoes every pending row older than the pending timeout.
func (s *Service) Reconcile(ctx context.Context) error {
	if s.vault == nil {
		return nil // embedded mode writes in single transactions: nothing can be pending
	}
	olderThan := s.now().Add(-s.pendingTimeout)
	creates, err := s.store.PendingCredentials(ctx, olderThan)
	if err != nil {
		return err
	}
	var firstErr error
	for _, id := range creates {
		if err := s.undoCreate(ctx, id, false, true); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	rotations, err := s.store.PendingRotations(ctx, olderThan)
	if err != nil {
		return err
	}
	for _, id := range rotations {
		if err := s.undoRotation(ctx, id, false, true); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// RunReconciler reconciles now and then every interval until ctx ends.
func (s *Service) RunReconciler(ctx context.Context, interval time.Duration) error {
	if s.vault == nil {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("reconciling pending credentials failed; will retry", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// undoCreate removes a pending credential and whatever of it reached Vault.
// now=true skips the age check: only for callers that know no write of it
// is in flight. touchVault=false when nothing can have reached Vault.
func (s *Service) undoCreate(ctx context.Context, id uuid.UUID, now, touchVault bool) error {
	ctx, cancel := s.cleanupContext(ctx)
	defer cancel()
	done, err := s.store.UndoPendingCredential(ctx, id, s.undoHorizon(now), func(c Credential) error {
		if !touchVault {
			return nil
		}
		return s.vault.DeleteAll(ctx, c.AgentID, c.ID)
	})
	if err != nil {
		s.logger.Warn("could not undo a pending credential yet; the reconciler will retry", "credential_id", id, "error", err)
		return err
	}
	if done {
		s.metrics.Reconciled.WithLabelValues("create").Inc()
		s.logger.Info("undid a pending credential", "credential_id", id)
	}
	return nil
}

// undoRotation removes a pending secret version and the KV versions above
// the highest one a committed version references.
func (s *Service) undoRotation(ctx context.Context, id uuid.UUID, now, touchVault bool) error {
	ctx, cancel := s.cleanupContext(ctx)
	defer cancel()
	done, err := s.store.UndoPendingRotation(ctx, id, s.undoHorizon(now), func(c Credential, referenced []int64) error {
		if !touchVault {
			return nil
		}
		if len(referenced) == 0 {
			// A move from a hash to Vault that never completed.
			return s.vault.DeleteAll(ctx, c.AgentID, c.ID)
		}
		highest := slices.Max(referenced)
		_, live, err := s.vault.Versions(ctx, c.AgentID, c.ID)
		if err != nil {
			return err
		}
		var orphans []int64
		for _, v := range live {
			if v > highest {
				orphans = append(orphans, v)
			}
		}
		return s.vault.Destroy(ctx, c.AgentID, c.ID, orphans)
	})
	if err != nil {
		s.logger.Warn("could not undo a pending rotation yet; the reconciler will retry", "credential_id", id, "error", err)
		return err
	}
	if done {
		s.metrics.Reconciled.WithLabelValues("rotation").Inc()
		s.logger.Info("undid a pending rotation", "credential_id", id)
	}
	return nil
}

// undoHorizon is the creation time before which a pending row may be undone.
func (s *Service) undoHorizon(now bool) time.Time {
	if now {
		return s.now().Add(time.Hour) // any age
	}
	return s.now().Add(-s.pendingTimeout)
}

// cleanupContext outlives a cancelled request, briefly: undoing is worth
// finishing even when the client has gone.
func (s *Service) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*s.vaultTimeout)
}
