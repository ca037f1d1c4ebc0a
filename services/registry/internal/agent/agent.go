// Package agent is the registry's domain: what an agent is, the rules its
// fields obey, its lifecycle, and the Service that registers, finds, lists,
// updates and decommissions agents.
package agent

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// Status is where an agent is in its lifecycle.
type Status string

const (
	StatusActive         Status = "active"
	StatusSuspended      Status = "suspended"
	StatusDecommissioned Status = "decommissioned"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusSuspended || s == StatusDecommissioned
}

// Agent is a registered AI agent. Its ID is also its OAuth client_id.
type Agent struct {
	ID               uuid.UUID
	Name             string
	Description      string
	AgentType        string
	Version          string
	Owner            string
	Capabilities     []string
	Scopes           []string
	DeploymentEnv    string
	Metadata         map[string]string
	Status           Status
	CreatedAt        time.Time
	UpdatedAt        time.Time
	DecommissionedAt *time.Time
	// SuspendedAt is the agent's last suspension, kept after a reactivation:
	// tokens issued at or before it stay invalid.
	SuspendedAt *time.Time
	// Revision counts writes; the etag is derived from it.
	Revision int64
}

// Scope confines a store operation to one owner's agents (a query
// predicate, so that a caller can never read or change another owner's
// rows, whatever the policy decided). The zero value reaches every owner.
type Scope struct {
	Owner    string
	Confined bool
}

// ScopeOf is the scope of a caller: confined to its owner unless it may
// act across owners.
func ScopeOf(info requestinfo.Info) Scope {
	owner, confined := info.OwnerScope()
	return Scope{Owner: owner, Confined: confined}
}

// ETag is the agent's opaque version tag (AIP-154).
func (a Agent) ETag() string { return strconv.FormatInt(a.Revision, 10) }

// Fields is what a client may set on an agent.
type Fields struct {
	Name          string
	Description   string
	AgentType     string
	Version       string
	Owner         string
	Capabilities  []string
	Scopes        []string
	DeploymentEnv string
	Metadata      map[string]string
	Status        Status
}

// Filter selects agents in a list; zero values match everything.
type Filter struct {
	Status    Status
	Owner     string
	AgentType string
	// Search is a case-insensitive substring of the name.
	Search string
}

// ListQuery asks for one page of agents.
type ListQuery struct {
	Filter Filter
	// PageSize is 1 to MaxPageSize; transports default it to DefaultPageSize.
	PageSize  int
	PageToken string
}

// Page is one page of a list.
type Page struct {
	Agents        []Agent
	NextPageToken string
}

// Update changes the fields named in Paths (JSON or proto field names; "*"
// for all) to the values in Fields. IfMatch, when set, must equal the
// agent's current etag.
type Update struct {
	ID      string
	Fields  Fields
	Paths   []string
	IfMatch string
}
