package credential

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// The service's dependencies, each as narrow as its use. internal/store/
// postgres implements the stores, internal/vault the Vault, internal/agents
// the Directory. Every implementation of a store interface here (and of
// GraceStore, LegacyStore, UsageStore, agents.ProjectionStore and the
// transport's EventLog) must pass the conformance suite in storetest.

// Store persists credentials and their secret versions. Implementations
// must pass storetest's suite.
type Store interface {
	// CreateActive inserts an active credential and its hashed version 1 in
	// one transaction (embedded mode).
	CreateActive(ctx context.Context, c Credential, v Verifier) (Credential, error)
	// CreatePending commits c and its version 1 as pending (Vault mode,
	// before the Vault write).
	CreatePending(ctx context.Context, c Credential) error
	// Activate makes a pending credential active with its KV version.
	// ErrPendingGone if the reconciler already undid it.
	Activate(ctx context.Context, id uuid.UUID, vaultVersion int64) (Credential, error)

	Get(ctx context.Context, agentID, id uuid.UUID) (Credential, error)
	List(ctx context.Context, agentID, after uuid.UUID, limit int) ([]Credential, error)
	// Revoke revokes an active credential; an already revoked one is
	// returned unchanged (changed=false).
	Revoke(ctx context.Context, agentID, id uuid.UUID, at time.Time) (c Credential, changed bool, err error)

	// RotateHashed locks the credential, runs check, and makes v (hashed)
	// its current version in one transaction (embedded mode).
	RotateHashed(ctx context.Context, agentID, id uuid.UUID, check func(Credential) error, v Verifier, grace time.Duration, now time.Time) (Credential, error)
	// BeginRotation locks the credential, runs check and commits its next
	// version as pending, recording vaultPath. *PendingError if another
	// rotation is pending.
	BeginRotation(ctx context.Context, agentID, id uuid.UUID, check func(Credential) error, vaultPath string, now time.Time) (c Credential, next int64, err error)
	// CompleteRotation makes the pending version current. ErrNotActive if
	// the credential was revoked meanwhile; ErrPendingGone if undone.
	CompleteRotation(ctx context.Context, id uuid.UUID, version, vaultVersion int64, grace time.Duration, now time.Time) (Credential, error)
}

// VaultMigrationStore moves secret versions off legacy KV versions (ones
// that hold a secret) onto KV versions that hold its verifier.
// Implementations must pass storetest's suite.
type VaultMigrationStore interface {
	// MoveVaultVersion locks the credential; if it has no pending row or
	// version and its secret version still references KV version from, it
	// runs write (which adds the replacement KV version) and makes the
	// secret version reference the version write returned, in the same
	// transaction. moved=false (and write not run) otherwise.
	MoveVaultVersion(ctx context.Context, id uuid.UUID, version, from int64, write func(context.Context) (int64, error)) (moved bool, err error)
	// VaultCredentials pages through every committed credential held in
	// Vault (by id, after after), each with the KV versions its committed
	// secret versions reference. Credentials with a pending row or version
	// are left out: a request may still be writing to their path.
	VaultCredentials(ctx context.Context, after uuid.UUID, limit int) ([]VaultCredential, error)
}

// VaultCredential is a credential held in Vault with its committed secret
// versions (secret version → KV version).
type VaultCredential struct {
	ID, AgentID uuid.UUID
	Versions    map[int64]int64
}

// PendingError reports a pending rotation, started at Since.
type PendingError struct{ Since time.Time }

func (e *PendingError) Error() string {
	return "a rotation is pending since " + e.Since.Format(time.RFC3339)
}

// ErrPendingGone: the pending row a request wanted to complete was undone
// by the reconciler (the request took longer than PENDING_TIMEOUT).
var ErrPendingGone = errors.New("the pending row is gone")

// VerifyRecord is what one verification reads: the credential, the
// verifiers of its current and previous secret versions, and the agent as
// the projection knows it (nil if it does not yet).
type VerifyRecord struct {
	Credential Credential
	Current    Verifier
	Previous   *Verifier
	Agent      *Agent
}

// VerifyStore reads credentials for verification, in one query each.
// Implementations must pass storetest's suite.
type VerifyStore interface {
	// ForVerify returns ErrNotFound for an unknown or pending credential.
	ForVerify(ctx context.Context, id uuid.UUID) (VerifyRecord, error)
	// LegacyForVerify returns the agent's active credentials that may
	// accept a phase-1 secret (one that embeds no credential id): those
	// with a bcrypt verifier, and the one whose verifier is exactly
	// verifier (the "sha256$" a bcrypt verifier was upgraded to).
	LegacyForVerify(ctx context.Context, agentID uuid.UUID, verifier string) ([]VerifyRecord, error)
	// UpgradeVerifier replaces a secret version's verifier from with to,
	// unless it changed meanwhile (then it does nothing).
	UpgradeVerifier(ctx context.Context, credentialID uuid.UUID, version int64, from, to string) error
}

// PendingStore is the reconciler's view. Implementations must pass
// storetest's suite.
type PendingStore interface {
	PendingCredentials(ctx context.Context, olderThan time.Time) ([]uuid.UUID, error)
	PendingRotations(ctx context.Context, olderThan time.Time) ([]uuid.UUID, error)
	// UndoPendingCredential locks the credential if it is still pending and
	// was created before olderThan, runs undo, and deletes it if undo
	// succeeded. done=false if there was nothing (left) to undo.
	UndoPendingCredential(ctx context.Context, id uuid.UUID, olderThan time.Time, undo func(Credential) error) (done bool, err error)
	// UndoPendingRotation locks the credential, finds its pending version
	// created before olderThan, runs undo with the KV versions that its
	// committed versions reference, and deletes the pending version if undo
	// succeeded.
	UndoPendingRotation(ctx context.Context, id uuid.UUID, olderThan time.Time, undo func(c Credential, referenced []int64) error) (done bool, err error)
}

// ProjectionReader reads the local projection of the registry's agents.
// Implementations must pass storetest's suite.
type ProjectionReader interface {
	// ProjectedAgent returns nil when the feed has not brought the agent yet.
	ProjectedAgent(ctx context.Context, id uuid.UUID) (*Agent, error)
}

// Directory is the registry, the authority on agents.
type Directory interface {
	// GetAgent returns ErrAgentNotFound or ErrRegistryUnavailable on failure.
	GetAgent(ctx context.Context, id uuid.UUID) (Agent, error)
}

// Vault keeps the verifiers of secrets (never the secrets) in KV v2,
// addressed by agent and credential.
type Vault interface {
	Path(agentID, id uuid.UUID) string
	// Write adds a version holding the verifier of the secret with digest
	// d, with check-and-set (cas: the expected current version, 0 for a new
	// path), and returns its number.
	Write(ctx context.Context, agentID, id uuid.UUID, d secret.Digest, cas int64) (int64, error)
	// ReadDigest returns the digest a version's verifier holds; legacy
	// reports a version written before verifiers, which holds the secret
	// itself and must be migrated. ErrSecretGone if the version has no data.
	ReadDigest(ctx context.Context, agentID, id uuid.UUID, version int64) (d secret.Digest, legacy bool, err error)
	// Versions returns the current version (0: no such path) and every
	// version not destroyed.
	Versions(ctx context.Context, agentID, id uuid.UUID) (current int64, live []int64, err error)
	Destroy(ctx context.Context, agentID, id uuid.UUID, versions []int64) error
	DeleteAll(ctx context.Context, agentID, id uuid.UUID) error
}

// ErrSecretGone: Vault has no data for a version.
var ErrSecretGone = errors.New("the secret version has no data in Vault")

// notApplied reports whether a failed Vault write certainly changed nothing
// (Vault refused it, or never received it).
func notApplied(err error) bool {
	var e interface{ NotApplied() bool }
	return errors.As(err, &e) && e.NotApplied()
}
