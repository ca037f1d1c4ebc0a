package idp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"iter"
	"net/url"
	"strconv"
	"strings"
)

// AgentsService registers agents and manages their lifecycle
// (/v1/agents). A caller without platform:admin reaches only its own
// owner's agents: another owner's agent answers AGENT_NOT_FOUND (404), the
// error an agent that does not exist gives.
type AgentsService struct{ c *Client }

// Register creates an agent in status active. It is retried safely: the
// request carries in.RequestID, or one generated for this call.
func (s *AgentsService) Register(ctx context.Context, in AgentInput) (*Agent, error) {
	id := in.RequestID
	if id == "" {
		id = newRequestID()
	}
	var out Agent
	err := s.c.do(ctx, call{method: "POST", path: "/v1/agents", query: url.Values{"requestId": {id}},
		json: in, retry: true, out: &out})
	return result(&out, err)
}

// Get returns one agent, whatever its status.
func (s *AgentsService) Get(ctx context.Context, agentID string) (*Agent, error) {
	path, err := pathOf("/v1/agents/", agentID)
	if err != nil {
		return nil, err
	}
	var out Agent
	return result(&out, s.c.do(ctx, call{method: "GET", path: path, retry: true, out: &out}))
}

// ListPage returns one page of agents, oldest first; pass the previous
// page's NextPageToken (and the same filter) for the next.
func (s *AgentsService) ListPage(ctx context.Context, f AgentFilter, pageToken string) (*AgentPage, error) {
	q := url.Values{}
	set(q, "status", f.Status)
	set(q, "owner", f.Owner)
	set(q, "agentType", f.AgentType)
	set(q, "search", f.Search)
	set(q, "pageToken", pageToken)
	if f.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	var out AgentPage
	return result(&out, s.c.do(ctx, call{method: "GET", path: "/v1/agents", query: q, retry: true, out: &out}))
}

// List iterates over every agent matching f, fetching pages as it goes.
// It stops at the first error, which it yields.
func (s *AgentsService) List(ctx context.Context, f AgentFilter) iter.Seq2[*Agent, error] {
	return paginate(func(token string) ([]Agent, string, error) {
		p, err := s.ListPage(ctx, f, token)
		if err != nil {
			return nil, "", err
		}
		return p.Agents, p.NextPageToken, nil
	})
}

// Update changes the fields set in u (and only those).
func (s *AgentsService) Update(ctx context.Context, agentID string, u AgentUpdate) (*Agent, error) {
	path, err := pathOf("/v1/agents/", agentID)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	var mask []string
	add := func(name string, set bool, v any) {
		if set {
			body[name] = v
			mask = append(mask, name)
		}
	}
	add("name", u.Name != nil, deref(u.Name))
	add("description", u.Description != nil, deref(u.Description))
	add("agentType", u.AgentType != nil, deref(u.AgentType))
	add("version", u.Version != nil, deref(u.Version))
	add("owner", u.Owner != nil, deref(u.Owner))
	add("capabilities", u.Capabilities != nil, nonNil(deref(u.Capabilities)))
	add("scopes", u.Scopes != nil, nonNil(deref(u.Scopes)))
	add("deploymentEnv", u.DeploymentEnv != nil, deref(u.DeploymentEnv))
	add("metadata", u.Metadata != nil, deref(u.Metadata))
	add("status", u.status != nil, deref(u.status))
	if len(mask) == 0 {
		return nil, invalidArgument("the update sets no field")
	}
	if u.Etag != "" {
		body["etag"] = u.Etag
	}
	var out Agent
	// Setting fields to given values is idempotent: safe to retry.
	err = s.c.do(ctx, call{method: "PATCH", path: path, query: url.Values{"updateMask": {strings.Join(mask, ",")}},
		json: body, retry: true, out: &out})
	return result(&out, err)
}

// Suspend sets the agent's status to suspended: its tokens stop working.
func (s *AgentsService) Suspend(ctx context.Context, agentID string) (*Agent, error) {
	return s.Update(ctx, agentID, AgentUpdate{status: Ptr(StatusSuspended)})
}

// Reactivate sets a suspended agent's status back to active.
func (s *AgentsService) Reactivate(ctx context.Context, agentID string) (*Agent, error) {
	return s.Update(ctx, agentID, AgentUpdate{status: Ptr(StatusActive)})
}

// Decommission ends the agent for good (its credentials and tokens stop
// working); the record stays. Repeating it is harmless.
func (s *AgentsService) Decommission(ctx context.Context, agentID string) (*Agent, error) {
	path, err := pathOf("/v1/agents/", agentID)
	if err != nil {
		return nil, err
	}
	var out Agent
	return result(&out, s.c.do(ctx, call{method: "DELETE", path: path, retry: true, out: &out}))
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// nonNil sends [] rather than null for an emptied list.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func result[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return hex.EncodeToString(b[:])
}

// paginate turns a page fetcher into a lazy iterator.
func paginate[T any](page func(token string) ([]T, string, error)) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		token := ""
		for {
			items, next, err := page(token)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range items {
				if !yield(&items[i], nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}
