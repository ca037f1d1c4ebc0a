package credential

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// LegacySecret is a secret version that is still verified with bcrypt: a
// phase-1 secret nobody has presented since the upgrade to this version of
// the service (a successful verification replaces its verifier).
type LegacySecret struct {
	AgentID      uuid.UUID
	CredentialID uuid.UUID
	Version      int64
	// Current is false for the previous version of a rotated credential,
	// which works until GraceEnds.
	Current    bool
	GraceEnds  *time.Time
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// LegacyStore lists and retires legacy secrets (the operator command).
type LegacyStore interface {
	// LegacySecrets lists the versions of active credentials that accept
	// a bcrypt-verified secret now.
	LegacySecrets(ctx context.Context, now time.Time) ([]LegacySecret, error)
	Revoke(ctx context.Context, agentID, id uuid.UUID, at time.Time) (Credential, bool, error)
	// EndGrace ends a rotated credential's grace period now, recording
	// grace_ended; false if it had already ended.
	EndGrace(ctx context.Context, agentID, id uuid.UUID, now time.Time) (bool, error)
}

// RetireLegacy makes l stop working: a credential whose current secret is
// a legacy one is revoked (its owner needs a new credential); a rotated
// one whose previous, legacy secret is still in its grace period keeps
// its current secret and loses the old one. Both go through the change
// feed, so caches (the token service's) drop them within moments.
func RetireLegacy(ctx context.Context, store LegacyStore, l LegacySecret, now time.Time) (changed bool, err error) {
	if l.Current {
		_, changed, err = store.Revoke(ctx, l.AgentID, l.CredentialID, now)
		return changed, err
	}
	return store.EndGrace(ctx, l.AgentID, l.CredentialID, now)
}
