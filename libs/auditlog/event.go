// Package auditlog is the contract between AgentIdP's services and the audit
// log: the Event every producer emits, the rules it obeys, and the Redis
// stream emitter that services without a database of their own use.
package auditlog

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// Outcomes of an audited action.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Actions AgentIdP records. Producers may add others of the same shape
// ("<noun>.<verb>"); the "audit." prefix is reserved for the audit service.
const (
	ActionAgentRegistered      = "agent.registered"
	ActionAgentUpdated         = "agent.updated"
	ActionAgentSuspended       = "agent.suspended"
	ActionAgentReactivated     = "agent.reactivated"
	ActionAgentDecommissioned  = "agent.decommissioned"
	ActionCredentialGenerated  = "credential.generated"
	ActionCredentialRotated    = "credential.rotated"
	ActionCredentialRevoked    = "credential.revoked"
	ActionCredentialGraceEnded = "credential.grace_ended"
	ActionTokenIssued          = "token.issued"
	ActionTokenDenied          = "token.denied"
	ActionTokenRevoked         = "token.revoked"
	ActionAuthzDenied          = "authz.denied"
	ActionPolicyReloaded       = "policy.reloaded"
	ActionAuditRetention       = "audit.retention"
)

// ReservedActionPrefix marks actions only the audit service records.
const ReservedActionPrefix = "audit."

// Actor of events no agent caused.
const ActorSystem = requestinfo.System

// Event is one audited fact. It never holds a secret or a token: put ids
// (credential id, token jti) in Target or Details, never the value.
type Event struct {
	// ID is a UUIDv7 assigned by the producer and the idempotency key: an
	// event redelivered with the same ID is stored once. Emit sets it when
	// it is empty.
	ID uuid.UUID
	// OccurredAt is when it happened (microsecond precision is kept).
	OccurredAt time.Time
	// Actor is the agent id of the caller, or "system".
	Actor string
	// Action is e.g. ActionTokenIssued.
	Action string
	// Target is what the action was applied to: "agent:<id>", "credential:<id>", "token:<jti>".
	Target string
	// AgentID is the agent concerned, if any (the agentId filter matches it).
	AgentID string
	// Outcome is OutcomeSuccess, OutcomeFailure or OutcomeDenied.
	Outcome       string
	RequestID     string
	SourceAddress string
	// Owner is the owner (tenant) whose log the event belongs to: the
	// owner of the agent concerned; empty for platform events.
	Owner string
	// Details is bounded context (see Limits); values that look like a
	// secret or a token are refused by Validate and redacted by Normalize.
	Details map[string]string
}

// WithRequest fills Actor, RequestID and SourceAddress from the request
// that ctx carries (libs/requestinfo), where they are empty.
func WithRequest(ctx context.Context, e Event) Event {
	info := requestinfo.From(ctx)
	if e.Actor == "" {
		e.Actor = info.Actor
	}
	if e.RequestID == "" {
		e.RequestID = info.RequestID
	}
	if e.SourceAddress == "" {
		e.SourceAddress = info.SourceAddress
	}
	return e
}

// NewID returns a fresh UUIDv7 event id.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// DerivedID returns a deterministic UUIDv7 for entry sequence of a
// producer's feed (e.g. "registry"): its timestamp is at and its other bits
// come from SHA-256("<feed>:<sequence>"). Relaying the same feed entry twice
// yields the same id, so the audit log stores it once.
func DerivedID(feed string, sequence int64, at time.Time) uuid.UUID {
	sum := sha256.Sum256([]byte(feed + ":" + strconv.FormatInt(sequence, 10)))
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[:6], ms[2:])
	copy(u[6:], sum[:10])
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}
