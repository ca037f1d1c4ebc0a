package idp

import (
	"encoding/json"
	"strconv"
	"time"
)

// Agent is a registered AI agent. Its AgentID is also its OAuth client_id.
type Agent struct {
	AgentID     string `json:"agentId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	AgentType   string `json:"agentType,omitempty"`
	Version     string `json:"version,omitempty"`
	// Owner is the agent's tenant: a caller without platform:admin sees
	// and manages only its own owner's agents (another owner's agent is
	// AGENT_NOT_FOUND, like one that does not exist).
	Owner            string            `json:"owner,omitempty"`
	Capabilities     []string          `json:"capabilities,omitempty"`
	Scopes           []string          `json:"scopes,omitempty"`
	DeploymentEnv    string            `json:"deploymentEnv,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	Status           string            `json:"status"` // active, suspended or decommissioned
	CreatedAt        time.Time         `json:"createdAt,omitzero"`
	UpdatedAt        time.Time         `json:"updatedAt,omitzero"`
	DecommissionedAt time.Time         `json:"decommissionedAt,omitzero"`
	// SuspendedAt is when the agent was last suspended, kept after a
	// reactivation: tokens issued until then stay invalid.
	SuspendedAt time.Time `json:"suspendedAt,omitzero"`
	// Etag changes with every update; pass it to Update to make it
	// conditional.
	Etag string `json:"etag,omitempty"`
}

// Agent statuses.
const (
	StatusActive         = "active"
	StatusSuspended      = "suspended"
	StatusDecommissioned = "decommissioned"
)

// AgentInput registers an agent. Name is required; the server assigns the
// id, status and timestamps.
type AgentInput struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	AgentType   string `json:"agentType,omitempty"`
	Version     string `json:"version,omitempty"`
	// Owner defaults to the caller's own; naming another needs
	// platform:admin.
	Owner         string            `json:"owner,omitempty"`
	Capabilities  []string          `json:"capabilities,omitempty"`
	Scopes        []string          `json:"scopes,omitempty"`
	DeploymentEnv string            `json:"deploymentEnv,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// RequestID makes the registration idempotent: repeating it returns the
	// agent the first call created. Left empty, the SDK generates one per
	// call, so that its own retries never register twice.
	RequestID string `json:"-"`
}

// AgentUpdate names the fields to change: each non-nil field is set (an
// empty value clears it) and only those are sent in the update mask.
type AgentUpdate struct {
	Name          *string
	Description   *string
	AgentType     *string
	Version       *string
	Owner         *string // moving an agent to another owner needs platform:admin
	Capabilities  *[]string
	Scopes        *[]string
	DeploymentEnv *string
	Metadata      *map[string]string
	// Etag, if set, makes the update fail with ETAG_MISMATCH (409) when the
	// agent changed since it was read.
	Etag string
	// status is set by Suspend and Reactivate only.
	status *string
}

// Ptr returns a pointer to v, for AgentUpdate fields.
func Ptr[T any](v T) *T { return &v }

// AgentFilter selects agents to list. Zero fields do not filter.
type AgentFilter struct {
	Status string
	// Owner filters by owner; a caller without platform:admin only ever
	// sees its own owner's agents, whatever it asks for.
	Owner     string
	AgentType string
	Search    string // case-insensitive substring of the name
	PageSize  int    // 1 to 100; 0: the server's default (20)
}

// AgentPage is one page of agents.
type AgentPage struct {
	Agents        []Agent `json:"agents"`
	NextPageToken string  `json:"nextPageToken"`
}

// Credential is a credential's metadata; it never holds the secret.
type Credential struct {
	CredentialID            string    `json:"credentialId"`
	AgentID                 string    `json:"agentId"`
	ClientID                string    `json:"clientId"`
	Status                  string    `json:"status"` // active, revoked or expired
	CreatedAt               time.Time `json:"createdAt,omitzero"`
	ExpiresAt               time.Time `json:"expiresAt,omitzero"`
	LastUsedAt              time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt               time.Time `json:"revokedAt,omitzero"`
	SecretVersion           int64     `json:"secretVersion"`
	RotatedFrom             int64     `json:"rotatedFrom,omitempty"`
	RotatedAt               time.Time `json:"rotatedAt,omitzero"`
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`
	Storage                 string    `json:"storage,omitempty"` // vault or hash
}

// UnmarshalJSON accepts int64 fields as JSON numbers or strings (the
// proto3 JSON mapping writes them as strings).
func (c *Credential) UnmarshalJSON(b []byte) error {
	type plain Credential
	var v struct {
		*plain
		SecretVersion json.Number `json:"secretVersion"`
		RotatedFrom   json.Number `json:"rotatedFrom"`
	}
	v.plain = (*plain)(c)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	if c.SecretVersion, err = int64Of(v.SecretVersion); err != nil {
		return err
	}
	c.RotatedFrom, err = int64Of(v.RotatedFrom)
	return err
}

// IssuedCredential is a credential with its secret, returned by Generate
// and Rotate only: the one time the secret is shown.
type IssuedCredential struct {
	Credential   Credential `json:"credential"`
	ClientID     string     `json:"clientId"`
	ClientSecret Secret     `json:"clientSecret"`
}

// CredentialPage is one page of credentials.
type CredentialPage struct {
	Credentials   []Credential `json:"credentials"`
	NextPageToken string       `json:"nextPageToken"`
}

// TokenResponse is an access token from the token endpoint (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken Secret `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"` // seconds
	Scope       string `json:"scope,omitempty"`
}

// Introspection describes a token (RFC 7662). Only Active is set for a
// token that is not active.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	Owner     string   `json:"owner,omitempty"` // the token's agent's owner (tenant)
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	EventID       string            `json:"eventId"`
	OccurredAt    time.Time         `json:"occurredAt,omitzero"`
	Actor         string            `json:"actor"`
	Action        string            `json:"action"`
	Target        string            `json:"target,omitempty"`
	AgentID       string            `json:"agentId,omitempty"`
	Outcome       string            `json:"outcome"` // success, failure or denied
	RequestID     string            `json:"requestId,omitempty"`
	SourceAddress string            `json:"sourceAddress,omitempty"`
	Details       map[string]string `json:"details,omitempty"`
	Sequence      int64             `json:"sequence"`
	PrevHash      string            `json:"prevHash,omitempty"`
	Hash          string            `json:"hash,omitempty"`
	RecordedAt    time.Time         `json:"recordedAt,omitzero"`
	// Owner is the owner (tenant) whose log the event belongs to: the
	// owner of the agent concerned; empty for platform events.
	Owner string `json:"owner,omitempty"`
}

// UnmarshalJSON accepts Sequence as a JSON number or string.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	type plain AuditEvent
	var v struct {
		*plain
		Sequence json.Number `json:"sequence"`
	}
	v.plain = (*plain)(e)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	e.Sequence, err = int64Of(v.Sequence)
	return err
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	AgentID string
	Action  string
	Outcome string // success, failure or denied
	Actor   string
	// Owner filters by owner; a caller without platform:admin only ever
	// reads its own owner's events, whatever it asks for.
	Owner     string
	StartTime time.Time // inclusive
	EndTime   time.Time // exclusive
	PageSize  int       // 1 to 1000; 0: the server's default (50)
}

// AuditPage is one page of audit events, newest first.
type AuditPage struct {
	Events        []AuditEvent `json:"events"`
	NextPageToken string       `json:"nextPageToken"`
}

func int64Of(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// ChainVerification is the result of AuditService.Verify: the range of
// sequences checked and, when OK is false, where the chain first broke.
type ChainVerification struct {
	OK            bool        `json:"ok"`
	FromSequence  int64       `json:"fromSequence"`
	ToSequence    int64       `json:"toSequence"`
	EventsChecked int64       `json:"eventsChecked"`
	FirstBreak    *ChainBreak `json:"firstBreak,omitempty"`
	// CheckpointsChecked counts the signed checkpoints in the range whose
	// signature held and whose head matched the recomputed chain.
	CheckpointsChecked int64 `json:"checkpointsChecked"`
	// CheckpointedThrough is the newest sequence such a checkpoint covers
	// (0: none): events after it rest on the hash chain alone.
	CheckpointedThrough int64 `json:"checkpointedThrough"`
}

// UnmarshalJSON accepts the int64 fields as JSON numbers or strings.
func (v *ChainVerification) UnmarshalJSON(b []byte) error {
	type plain ChainVerification
	var w struct {
		*plain
		FromSequence  json.Number `json:"fromSequence"`
		ToSequence    json.Number `json:"toSequence"`
		EventsChecked json.Number `json:"eventsChecked"`
		Checkpoints   json.Number `json:"checkpointsChecked"`
		Through       json.Number `json:"checkpointedThrough"`
	}
	w.plain = (*plain)(v)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	if v.FromSequence, err = int64Of(w.FromSequence); err != nil {
		return err
	}
	if v.ToSequence, err = int64Of(w.ToSequence); err != nil {
		return err
	}
	if v.EventsChecked, err = int64Of(w.EventsChecked); err != nil {
		return err
	}
	if v.CheckpointsChecked, err = int64Of(w.Checkpoints); err != nil {
		return err
	}
	v.CheckpointedThrough, err = int64Of(w.Through)
	return err
}

// AuditCheckpoint is a signed statement that the audit chain's event at
// Sequence had Hash, and so every event before it was what the chain says
// (docs/audit.md, "Signed checkpoints").
type AuditCheckpoint struct {
	Sequence int64     `json:"sequence"`
	Hash     string    `json:"hash"`
	SignedAt time.Time `json:"signedAt,omitzero"`
	// KeyID is the hex of the first 16 bytes of SHA-256 over the signing
	// public key's PKIX DER encoding.
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"` // ed25519 or ecdsa-p256-sha256
	Signature string `json:"signature"` // standard base64
}

// UnmarshalJSON accepts Sequence as a JSON number or string.
func (c *AuditCheckpoint) UnmarshalJSON(b []byte) error {
	type plain AuditCheckpoint
	var w struct {
		*plain
		Sequence json.Number `json:"sequence"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	c.Sequence, err = int64Of(w.Sequence)
	return err
}

// AuditCheckpointPage is one page of checkpoints, oldest first.
type AuditCheckpointPage struct {
	Checkpoints   []AuditCheckpoint `json:"checkpoints"`
	NextPageToken string            `json:"nextPageToken"`
}

// ChainBreak is where the audit chain stops proving the log intact. Kind is
// hash_mismatch (an event was altered), prev_hash_mismatch (the link to the
// previous event is broken), missing_events (events were deleted) or
// head_mismatch (the newest events are gone or the head was altered).
type ChainBreak struct {
	Sequence int64  `json:"sequence"`
	EventID  string `json:"eventId,omitempty"`
	Kind     string `json:"kind"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
}

// UnmarshalJSON accepts Sequence as a JSON number or string.
func (c *ChainBreak) UnmarshalJSON(b []byte) error {
	type plain ChainBreak
	var w struct {
		*plain
		Sequence json.Number `json:"sequence"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	c.Sequence, err = int64Of(w.Sequence)
	return err
}
