package idp

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// CredentialsService manages agents' client credentials
// (/v1/agents/{agentId}/credentials).
type CredentialsService struct{ c *Client }

// Generate creates a credential for an active agent. ttl 0: it does not
// expire. The returned secret is shown this once. Never retried: a retry
// could create a second credential.
func (s *CredentialsService) Generate(ctx context.Context, agentID string, ttl time.Duration) (*IssuedCredential, error) {
	path, err := pathOf("/v1/agents/", agentID, "/credentials")
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if ttl > 0 {
		body["ttlSeconds"] = int64(ttl / time.Second)
	}
	var out IssuedCredential
	return result(&out, s.c.do(ctx, call{method: "POST", path: path, json: body, out: &out}))
}

// ListPage returns one page of an agent's credentials (never secrets).
func (s *CredentialsService) ListPage(ctx context.Context, agentID string, pageSize int, pageToken string) (*CredentialPage, error) {
	path, err := pathOf("/v1/agents/", agentID, "/credentials")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	set(q, "pageToken", pageToken)
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	var out CredentialPage
	return result(&out, s.c.do(ctx, call{method: "GET", path: path, query: q, retry: true, out: &out}))
}

// List iterates over every credential of the agent (pageSize 0: the
// server's default).
func (s *CredentialsService) List(ctx context.Context, agentID string, pageSize int) iter.Seq2[*Credential, error] {
	return paginate(func(token string) ([]Credential, string, error) {
		p, err := s.ListPage(ctx, agentID, pageSize, token)
		if err != nil {
			return nil, "", err
		}
		return p.Credentials, p.NextPageToken, nil
	})
}

// Rotate gives the credential a new secret; the previous one keeps working
// for grace (0 to 24h). Never retried: a retry would rotate twice.
func (s *CredentialsService) Rotate(ctx context.Context, agentID, credentialID string, grace time.Duration) (*IssuedCredential, error) {
	path, err := pathOf("/v1/agents/", agentID, "/credentials/", credentialID, ":rotate")
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if grace > 0 {
		body["gracePeriodSeconds"] = int64(grace / time.Second)
	}
	var out IssuedCredential
	return result(&out, s.c.do(ctx, call{method: "POST", path: path, json: body, out: &out}))
}

// Revoke stops the credential at once. Repeating it is harmless.
func (s *CredentialsService) Revoke(ctx context.Context, agentID, credentialID string) (*Credential, error) {
	path, err := pathOf("/v1/agents/", agentID, "/credentials/", credentialID)
	if err != nil {
		return nil, err
	}
	var out Credential
	return result(&out, s.c.do(ctx, call{method: "DELETE", path: path, retry: true, out: &out}))
}
