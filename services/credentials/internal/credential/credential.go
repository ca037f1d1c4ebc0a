// Package credential is the credentials service's domain: an agent's client
// credentials, their secrets' life (issue, rotate with grace, revoke,
// expire), verification for the token service, and the reconciler that
// keeps Postgres and Vault in step.
package credential

import (
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// State is what Postgres records. "pending" rows are half-created (their
// Vault write is in flight or failed) and invisible to every reader.
type State string

const (
	StatePending State = "pending"
	StateActive  State = "active"
	StateRevoked State = "revoked"
)

// Status is what clients see: expired is computed from ExpiresAt.
type Status string

const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Storage says where the current secret's verifier lives.
type Storage string

const (
	StorageVault Storage = "vault"
	StorageHash  Storage = "hash"
)

// Credential is a credential's metadata. It never holds a secret or a hash.
type Credential struct {
	ID         uuid.UUID
	AgentID    uuid.UUID
	State      State
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// SecretVersion is the current secret's version: 1, then +1 per rotation.
	SecretVersion int64
	// RotatedFrom is the version the current one replaced (0: never rotated).
	RotatedFrom int64
	RotatedAt   *time.Time
	// PreviousSecretExpiresAt ends the grace of version RotatedFrom.
	PreviousSecretExpiresAt *time.Time
	// VaultPath is the KV v2 path (mount included) of the credential's
	// secrets, or "" while none of its versions lives in Vault.
	VaultPath string
	Storage   Storage
}

// Status is the credential's status at now.
func (c Credential) Status(now time.Time) Status {
	switch {
	case c.State == StateRevoked:
		return StatusRevoked
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
		return StatusExpired
	default:
		return StatusActive
	}
}

// Issued is a credential with the secret it was just given: the only value
// that ever carries a secret out of this service.
type Issued struct {
	Credential Credential
	Secret     secret.Plaintext
}

// Verifier is how one secret version is checked: exactly one of Hash (a
// one-way verifier in Postgres) and VaultVersion (a KV v2 version) is set.
type Verifier struct {
	Version      int64
	Hash         string
	VaultVersion int64
}

// Agent is what this service knows of an agent: from the local projection
// of the registry's feed, or from the registry itself.
type Agent struct {
	ID     uuid.UUID
	Status string
	Scopes []string
	// Owner is the agent's owner (tenant): callers of another owner do not
	// see the agent or its credentials.
	Owner string
}

// The registry's agent statuses.
const (
	AgentActive         = "active"
	AgentSuspended      = "suspended"
	AgentDecommissioned = "decommissioned"
)

// ListQuery asks for one page of an agent's credentials.
type ListQuery struct {
	AgentID   string
	PageSize  int
	PageToken string
}

// Page is one page of credentials.
type Page struct {
	Credentials   []Credential
	NextPageToken string
}

// Verified is a successful client authentication.
type Verified struct {
	AgentID      uuid.UUID
	CredentialID uuid.UUID
	Scopes       []string
	AgentStatus  string
	Owner        string
	// ValidUntil is when the presented secret stops working (nil: never).
	ValidUntil *time.Time
}
