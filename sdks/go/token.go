package idp

import (
	"context"
	"sync"
	"time"
)

// refreshBefore is how long before expiry a cached token is replaced. For
// tokens that live less than twice as long, half their lifetime is used.
const refreshBefore = 60 * time.Second

// TokenManager gets the client's access token with client_credentials,
// caches it, and replaces it refreshBefore its expiry. Concurrent callers
// that find no usable token share one token request (single flight). It is
// safe for concurrent use.
type TokenManager struct {
	fetch func(ctx context.Context, scopes ...string) (*TokenResponse, error)
	now   func() time.Time

	mu       sync.Mutex
	token    Secret
	renewAt  time.Time
	inflight *flight
}

// flight is one token request that several callers wait for.
type flight struct {
	done  chan struct{}
	token Secret
	err   error
}

func newTokenManager(fetch func(context.Context, ...string) (*TokenResponse, error), now func() time.Time) *TokenManager {
	return &TokenManager{fetch: fetch, now: now}
}

// Token returns a usable access token, requesting one if needed. If ctx
// ends first, Token returns; the shared request goes on for the others.
func (m *TokenManager) Token(ctx context.Context) (Secret, error) {
	m.mu.Lock()
	if m.token != "" && m.now().Before(m.renewAt) {
		t := m.token
		m.mu.Unlock()
		return t, nil
	}
	f := m.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		m.inflight = f
		// Detached from the first caller's cancellation: others wait on it.
		// The client's per-attempt timeout still bounds it.
		go m.run(context.WithoutCancel(ctx), f)
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", transportError(ctx, ctx.Err())
	}
}

func (m *TokenManager) run(ctx context.Context, f *flight) {
	start := m.now()
	resp, err := m.fetch(ctx)
	m.mu.Lock()
	if err == nil {
		life := time.Duration(resp.ExpiresIn) * time.Second
		margin := min(refreshBefore, life/2)
		m.token, m.renewAt = resp.AccessToken, start.Add(life-margin)
		f.token = resp.AccessToken
	}
	f.err = err
	m.inflight = nil
	m.mu.Unlock()
	close(f.done)
}

// Clear drops the cached token.
func (m *TokenManager) Clear() {
	m.mu.Lock()
	m.token, m.renewAt = "", time.Time{}
	m.mu.Unlock()
}

// invalidate drops the cached token if it is still t (a token the server
// refused), leaving a newer one alone.
func (m *TokenManager) invalidate(t Secret) {
	m.mu.Lock()
	if m.token == t {
		m.token, m.renewAt = "", time.Time{}
	}
	m.mu.Unlock()
}
