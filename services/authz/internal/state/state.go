// Package state is what every authz replica knows, in memory, about the
// agents and credentials behind tokens: each agent's status, scopes and
// last suspension, and every revoked credential. The registry's and the
// credentials service's change feeds keep it current (the kill switch);
// until both have been replayed to where they stood at start-up the
// service answers nothing but 503.
package state

import (
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Agent statuses (registry).
const (
	Active         = "active"
	Suspended      = "suspended"
	Decommissioned = "decommissioned"
)

// Agent is an agent as the registry last reported it.
type Agent struct {
	ID     string
	Status string
	// Owner is the agent's owner (tenant).
	Owner  string
	Scopes []string
	// RevokedThrough: tokens issued at or before this unix second are dead
	// (the agent's last suspension or decommissioning), also after a
	// reactivation. Whole seconds, because iat is; a token issued in the
	// same second as a suspension is refused, erring on the safe side.
	RevokedThrough int64
	// Sequence of the feed event that produced this record (0: looked up
	// from the registry directly).
	Sequence int64
	// Input is input.agent for the policy, built once.
	Input ast.Value
}

// NewAgent builds a record and its policy input.
func NewAgent(id, status, owner string, scopes []string, revokedThrough, sequence int64) *Agent {
	a := &Agent{ID: id, Status: status, Owner: owner, Scopes: scopes, RevokedThrough: revokedThrough, Sequence: sequence}
	terms := make([]*ast.Term, len(scopes))
	for i, s := range scopes {
		terms[i] = ast.StringTerm(s)
	}
	a.Input = ast.NewObject(
		ast.Item(ast.StringTerm("id"), ast.StringTerm(id)),
		ast.Item(ast.StringTerm("status"), ast.StringTerm(status)),
		ast.Item(ast.StringTerm("owner"), ast.StringTerm(owner)),
		ast.Item(ast.StringTerm("scopes"), ast.ArrayTerm(terms...)),
	)
	return a
}

// Store holds the projection. Reads take a read lock on a map: the hot
// path never leaves the process for it.
type Store struct {
	mu     sync.RWMutex
	agents map[string]*Agent
	// credentials maps a revoked credential id to when it was revoked.
	credentials map[string]time.Time
	// keepCredentials bounds how long a credential revocation is kept: a
	// token cannot outlive its issue by more, so older ones matter no more.
	keepCredentials time.Duration
}

// NewStore returns an empty store. keepCredentials is the longest token
// lifetime plus clock skew (default 25h).
func NewStore(keepCredentials time.Duration) *Store {
	if keepCredentials <= 0 {
		keepCredentials = 25 * time.Hour
	}
	return &Store{agents: map[string]*Agent{}, credentials: map[string]time.Time{}, keepCredentials: keepCredentials}
}

// key normalises an agent id (canonical UUIDs compare case-insensitively).
func key(id string) string { return strings.ToLower(id) }

// Agent returns the record of an agent.
func (s *Store) Agent(id string) (*Agent, bool) {
	s.mu.RLock()
	a, ok := s.agents[key(id)]
	s.mu.RUnlock()
	return a, ok
}

// CredentialRevoked reports whether a credential was revoked.
func (s *Store) CredentialRevoked(id string) bool {
	if id == "" {
		return false
	}
	s.mu.RLock()
	_, ok := s.credentials[key(id)]
	s.mu.RUnlock()
	return ok
}

// AgentEvent is one registry feed event, reduced to what matters here.
type AgentEvent struct {
	Sequence   int64
	Type       string // registered, updated, suspended, reactivated, decommissioned
	OccurredAt time.Time
	AgentID    string
	Status     string // the agent's current status
	Owner      string
	Scopes     []string
	// RevokedThrough is what the agent's current state says of its last
	// suspension or decommissioning (tokencheck.RevokedThrough).
	RevokedThrough int64
}

// ApplyAgents applies feed events in order. Each carries the agent's
// current state; suspensions and decommissionings also move the agent's
// revocation point. Replays (sequence not newer than the record's) are
// ignored.
func (s *Store) ApplyAgents(events []AgentEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if e.AgentID == "" {
			continue
		}
		k := key(e.AgentID)
		prev := s.agents[k]
		if prev != nil && prev.Sequence >= e.Sequence && prev.Sequence != 0 {
			continue
		}
		through := e.RevokedThrough
		if prev != nil {
			through = max(through, prev.RevokedThrough)
		}
		if e.Type == Suspended || e.Type == Decommissioned || e.Status != Active {
			through = max(through, e.OccurredAt.Unix())
		}
		s.agents[k] = NewAgent(k, e.Status, e.Owner, e.Scopes, through, e.Sequence)
	}
}

// PutLookedUp stores an agent read from the registry directly, unless the
// feed delivered something about it meanwhile (the feed is newer).
func (s *Store) PutLookedUp(a *Agent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.agents[key(a.ID)]; !ok {
		s.agents[key(a.ID)] = a
	}
}

// CredentialEvent is one credentials feed event, reduced.
type CredentialEvent struct {
	Sequence     int64
	Type         string
	OccurredAt   time.Time
	CredentialID string
}

// ApplyCredentials records revocations; other events change nothing here
// (a rotation keeps the credential id, so its tokens stay valid).
func (s *Store) ApplyCredentials(events []CredentialEvent, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if e.Type != "revoked" || e.CredentialID == "" {
			continue
		}
		if now.Sub(e.OccurredAt) > s.keepCredentials {
			continue // every token it authenticated has expired
		}
		s.credentials[key(e.CredentialID)] = e.OccurredAt
	}
}

// Prune forgets credential revocations older than every token they could
// concern.
func (s *Store) Prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range s.credentials {
		if now.Sub(at) > s.keepCredentials {
			delete(s.credentials, id)
		}
	}
}

// Counts reports the projection's size (metrics).
func (s *Store) Counts() (agents, revokedCredentials int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.agents), len(s.credentials)
}
