package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// Service is the registry's use-case API. Every method acts for the caller
// in ctx (libs/requestinfo): a caller without platform:admin sees and
// changes only its own owner's agents (another owner's agent does not exist
// for it), and never registers or changes an agent holding scopes it does
// not hold itself.
type Service interface {
	Register(ctx context.Context, f Fields, requestID string) (Agent, error)
	Get(ctx context.Context, id string) (Agent, error)
	List(ctx context.Context, q ListQuery) (Page, error)
	Update(ctx context.Context, u Update) (Agent, error)
	// Decommission is terminal and idempotent.
	Decommission(ctx context.Context, id, ifMatch string) (Agent, error)
}

// Store persists agents. Implementations must pass storetest's suite.
type Store interface {
	// Create inserts a. When requestID is not empty and an agent was already
	// created with it, Create returns that agent and created=false.
	Create(ctx context.Context, a Agent, requestID string) (stored Agent, created bool, err error)
	// Get returns ErrNotFound for an unknown id or an agent outside scope.
	Get(ctx context.Context, id uuid.UUID, scope Scope) (Agent, error)
	// List returns up to limit agents within scope matching f with
	// id > after, by id.
	List(ctx context.Context, scope Scope, f Filter, after uuid.UUID, limit int) ([]Agent, error)
	// Update loads the agent (ErrNotFound outside scope), locks it, calls
	// mutate, and writes the result (with Revision+1) in one transaction,
	// unless mutate fails or returns changed=false.
	Update(ctx context.Context, id uuid.UUID, scope Scope, mutate func(*Agent) (changed bool, err error)) (Agent, error)
}

const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	maxRequestIDLen = 64
	maxSearchLen    = 128
)

// Config holds the service's dependencies.
type Config struct {
	Store Store
	// Now defaults to time.Now.
	Now func() time.Time
	// Registered, if set, counts agents created (not idempotent replays).
	Registered interface{ Inc() }
}

type service struct {
	store      Store
	now        func() time.Time
	registered interface{ Inc() }
}

// NewService returns the registry's Service.
func NewService(cfg Config) Service {
	s := &service{store: cfg.Store, now: cfg.Now, registered: cfg.Registered}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *service) timestamp() time.Time {
	// PostgreSQL keeps microseconds: truncate so responses equal reads.
	return s.now().UTC().Truncate(time.Microsecond)
}

func (s *service) Register(ctx context.Context, f Fields, requestID string) (Agent, error) {
	if f.AgentType == "" {
		f.AgentType = DefaultAgentType
	}
	if f.Status == "" {
		f.Status = StatusActive
	}
	f.normalize()
	caller := requestinfo.From(ctx)
	if f.Owner == "" && !caller.Internal() {
		f.Owner = caller.Owner // a caller registers for its own owner
	}
	if err := f.validateAll("agent."); err != nil {
		return Agent{}, err
	}
	if !caller.Sees(f.Owner) {
		return Agent{}, ErrOtherOwner.WithMessage("agent.owner %q is not the caller's owner; only platform:admin registers agents for another owner", f.Owner).WithField("agent.owner")
	}
	if lacks := caller.Lacks(f.Scopes); len(lacks) > 0 {
		return Agent{}, escalation("cannot grant scopes the caller does not hold: %s", lacks).WithField("agent.scopes")
	}
	if len(requestID) > maxRequestIDLen || strings.ContainsFunc(requestID, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return Agent{}, fieldError(errInvalid, "requestId", "requestId must be at most %d printable ASCII characters", maxRequestIDLen)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Agent{}, fmt.Errorf("new agent id: %w", err)
	}
	now := s.timestamp()
	a := Agent{ID: id, CreatedAt: now, UpdatedAt: now, Revision: 1}
	apply(&a, f, fieldNames)
	stored, created, err := s.store.Create(ctx, a, requestID)
	if err == nil && created && s.registered != nil {
		s.registered.Inc()
	}
	return stored, err
}

func (s *service) Get(ctx context.Context, id string) (Agent, error) {
	uid, err := parseID(id)
	if err != nil {
		return Agent{}, err
	}
	return s.store.Get(ctx, uid, ScopeOf(requestinfo.From(ctx)))
}

func (s *service) List(ctx context.Context, q ListQuery) (Page, error) {
	if q.PageSize < 1 || q.PageSize > MaxPageSize {
		return Page{}, fieldError(errPageSize, "pageSize", "pageSize must be between 1 and %d (omit it for %d)", MaxPageSize, DefaultPageSize)
	}
	f, err := q.Filter.checked()
	if err != nil {
		return Page{}, err
	}
	var after uuid.UUID
	if q.PageToken != "" {
		if after, err = decodePageToken(q.PageToken, f); err != nil {
			return Page{}, err
		}
	}
	// One extra row tells whether another page exists.
	agents, err := s.store.List(ctx, ScopeOf(requestinfo.From(ctx)), f, after, q.PageSize+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Agents: agents}
	if len(agents) > q.PageSize {
		page.Agents = agents[:q.PageSize]
		page.NextPageToken = encodePageToken(page.Agents[q.PageSize-1].ID, f)
	}
	return page, nil
}

// checked returns f as the store queries it (search trimmed), or why no
// agent can match it.
func (f Filter) checked() (Filter, error) {
	f.Search = strings.TrimSpace(f.Search)
	if f.Status != "" && !f.Status.Valid() {
		return f, fieldError(errInvalid, "status", "status must be active, suspended or decommissioned")
	}
	if f.AgentType != "" && !typePattern.MatchString(f.AgentType) {
		return f, fieldError(errInvalid, "agentType", "agentType is not a valid agent type")
	}
	if len(f.Owner) > MaxOwnerLen {
		return f, fieldError(errTooLong, "owner", "owner is longer than %d bytes", MaxOwnerLen)
	}
	if len(f.Search) > maxSearchLen {
		return f, fieldError(errTooLong, "search", "search is longer than %d bytes", maxSearchLen)
	}
	for _, v := range []struct{ field, value string }{{"owner", f.Owner}, {"search", f.Search}} {
		// PostgreSQL text holds neither (the query would fail: a 500), and
		// no stored value can contain them.
		if !storableText(v.value) {
			return f, fieldError(errInvalid, v.field, "%s must be UTF-8 without NUL characters", v.field)
		}
	}
	return f, nil
}

func (s *service) Update(ctx context.Context, u Update) (Agent, error) {
	uid, err := parseID(u.ID)
	if err != nil {
		return Agent{}, err
	}
	names, err := resolveMask(u.Paths, u.Fields)
	if err != nil {
		return Agent{}, err
	}
	f := u.Fields
	f.normalize()
	for _, name := range names {
		if err := f.validateField(name, "agent."+name); err != nil {
			return Agent{}, err
		}
	}
	caller := requestinfo.From(ctx)
	return s.store.Update(ctx, uid, ScopeOf(caller), func(a *Agent) (bool, error) {
		if u.IfMatch != "" && u.IfMatch != a.ETag() {
			return false, ErrETagMismatch
		}
		if a.Status == StatusDecommissioned {
			return false, ErrDecommissioned
		}
		before := *a
		apply(a, f, names)
		if sameFields(before, *a) {
			return false, nil // a no-op keeps the etag and writes nothing
		}
		if err := mayChange(caller, before, *a); err != nil {
			return false, err
		}
		a.UpdatedAt = s.timestamp()
		if a.Status == StatusSuspended && before.Status != StatusSuspended {
			a.SuspendedAt = &a.UpdatedAt
		}
		return true, nil
	})
}

// mayChange enforces, beside the policy, that a caller changes only agents
// no more powerful than itself (an agent may edit its own description with
// a narrowed token), leaves them no more powerful than itself, and keeps
// them in their owner unless it holds platform:admin.
func mayChange(caller requestinfo.Info, before, after Agent) error {
	if after.Owner != before.Owner && !caller.Platform() {
		return ErrOtherOwner.WithMessage("moving an agent to another owner needs platform:admin").WithField("agent.owner")
	}
	if !strings.EqualFold(caller.Actor, before.ID.String()) {
		if lacks := caller.Lacks(before.Scopes); len(lacks) > 0 {
			return escalation("the agent holds scopes the caller does not hold: %s", lacks)
		}
	}
	if lacks := caller.Lacks(after.Scopes); len(lacks) > 0 && !slices.Equal(before.Scopes, after.Scopes) {
		return escalation("cannot grant scopes the caller does not hold: %s", lacks).WithField("agent.scopes")
	}
	return nil
}

func escalation(format string, lacks []string) *apierror.Error {
	return ErrEscalation.WithMessage(format, strings.Join(lacks, " "))
}

func (s *service) Decommission(ctx context.Context, id, ifMatch string) (Agent, error) {
	uid, err := parseID(id)
	if err != nil {
		return Agent{}, err
	}
	caller := requestinfo.From(ctx)
	return s.store.Update(ctx, uid, ScopeOf(caller), func(a *Agent) (bool, error) {
		if a.Status == StatusDecommissioned {
			return false, nil // idempotent: the second call changes nothing
		}
		if ifMatch != "" && ifMatch != a.ETag() {
			return false, ErrETagMismatch
		}
		if lacks := caller.Lacks(a.Scopes); len(lacks) > 0 {
			return false, escalation("the agent holds scopes the caller does not hold: %s", lacks)
		}
		now := s.timestamp()
		a.Status, a.UpdatedAt, a.DecommissionedAt = StatusDecommissioned, now, &now
		return true, nil
	})
}

// sameFields reports whether two agents agree on every client-settable field.
func sameFields(a, b Agent) bool {
	return a.Name == b.Name && a.Description == b.Description && a.AgentType == b.AgentType &&
		a.Version == b.Version && a.Owner == b.Owner && a.DeploymentEnv == b.DeploymentEnv &&
		a.Status == b.Status && slices.Equal(a.Capabilities, b.Capabilities) &&
		slices.Equal(a.Scopes, b.Scopes) && maps.Equal(a.Metadata, b.Metadata)
}

// parseID accepts the canonical UUID form only.
func parseID(id string) (uuid.UUID, error) {
	uid, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		if id == "" {
			return uuid.Nil, fieldError(errRequired, "agentId", "agentId is required")
		}
		return uuid.Nil, fieldError(errInvalid, "agentId", "agentId must be a UUID")
	}
	return uid, nil
}
