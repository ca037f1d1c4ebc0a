package idp

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. BaseURL, ClientID and ClientSecret are
// required.
type Config struct {
	// BaseURL is the gateway, e.g. http://127.0.0.1:8080.
	BaseURL      string
	ClientID     string
	ClientSecret Secret
	// Scopes the client's access token asks for; empty: every scope the
	// agent holds.
	Scopes []string
	// Timeout bounds each HTTP attempt (default 30s); the context bounds
	// the whole call, retries included.
	Timeout time.Duration
	// MaxRetries is how often a request that got 429 or 503 is retried
	// (default 3; NoRetries turns retries off). Only calls that are safe to
	// repeat are retried.
	MaxRetries int
	// MaxRetryAfter is the longest Retry-After the client waits for before
	// giving up and returning the error (default 30s).
	MaxRetryAfter time.Duration
	// HTTPClient sends the requests (default: a new http.Client).
	HTTPClient *http.Client
	// UserAgent is prepended to the SDK's own User-Agent.
	UserAgent string
}

// NoRetries as Config.MaxRetries turns retries off.
const NoRetries = -1

// Client is the AgentIdP API. It is safe for concurrent use; create one per
// identity and reuse it (it caches its access token).
type Client struct {
	Agents      *AgentsService
	Credentials *CredentialsService
	Tokens      *TokensService
	Audit       *AuditService

	base       *url.URL
	clientID   string
	secret     Secret
	scopes     []string
	http       *http.Client
	timeout    time.Duration
	maxRetries int
	maxWait    time.Duration
	backoff    time.Duration // first retry's ceiling; doubles, capped at maxBackoff
	maxBackoff time.Duration
	userAgent  string
	tokens     *TokenManager
}

// New returns a client for the identity in cfg. It does not contact the
// server: the first call gets the access token.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("idp: Config needs BaseURL, ClientID and ClientSecret")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("idp: Config.BaseURL must be an http or https URL without query or fragment")
	}
	c := &Client{
		base: base, clientID: cfg.ClientID, secret: cfg.ClientSecret,
		scopes: append([]string(nil), cfg.Scopes...), http: cfg.HTTPClient,
		timeout: cfg.Timeout, maxRetries: cfg.MaxRetries, maxWait: cfg.MaxRetryAfter,
		backoff: 200 * time.Millisecond, maxBackoff: 5 * time.Second,
		userAgent: userAgent(cfg.UserAgent),
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = 3
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.maxWait <= 0 {
		c.maxWait = 30 * time.Second
	}
	c.Agents = &AgentsService{c: c}
	c.Credentials = &CredentialsService{c: c}
	c.Tokens = &TokensService{c: c}
	c.Audit = &AuditService{c: c}
	c.tokens = newTokenManager(c.Tokens.Issue, time.Now)
	return c, nil
}

// ClearTokenCache drops the cached access token: the next call gets a new
// one (after the agent's scopes changed, for example).
func (c *Client) ClearTokenCache() { c.tokens.Clear() }

// TokenManager returns the manager of the client's own access token.
func (c *Client) TokenManager() *TokenManager { return c.tokens }

// ClientID is the identity the client calls as.
func (c *Client) ClientID() string { return c.clientID }
