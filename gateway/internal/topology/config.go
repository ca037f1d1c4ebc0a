// Package topology reads the gateway config file: where Envoy listens and
// where each known service runs. It validates the file and watches it, so
// an edit reconfigures Envoy without a restart and a bad edit changes
// nothing.
package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
)

// Config is a validated gateway config file.
type Config struct {
	Listener Listener           `yaml:"listener"`
	Services map[string]Service `yaml:"services"`
	// RateLimits cap each client address before any service sees its
	// requests.
	RateLimits RateLimits `yaml:"rateLimits"`
}

// RateLimits are per-client-address limits that Envoy enforces itself
// (its local rate limit: each Envoy instance counts on its own). The
// address is the one Envoy saw (IPv6: its /64).
type RateLimits struct {
	// OAuth covers /oauth2/* (token, introspection, revocation), which
	// anyone may call without a token; absent: DefaultOAuthLimit.
	OAuth *Limit `yaml:"oauth"`
}

// Limit is a token bucket: PerSecond sustained (0 turns the limit off),
// Burst at once (default twice PerSecond).
type Limit struct {
	PerSecond int `yaml:"perSecond"`
	Burst     int `yaml:"burst"`
}

// DefaultOAuthLimit is the production default for /oauth2/*: far above
// what one host's agents need (a token lives 15 minutes; the token
// service limits each client to 10/s on its own), far below what it takes
// to keep the token and credentials services busy from one address.
var DefaultOAuthLimit = Limit{PerSecond: 100, Burst: 200}

// maxLimit bounds a configured rate or burst (Envoy counts in uint32).
const maxLimit = 1_000_000_000

// OAuthLimit is the limit in force on /oauth2/*, defaults applied.
func (c *Config) OAuthLimit() Limit {
	l := DefaultOAuthLimit
	if c.RateLimits.OAuth != nil {
		l = *c.RateLimits.OAuth
	}
	if l.Burst == 0 {
		l.Burst = min(2*l.PerSecond, maxLimit)
	}
	return l
}

// Listener is where Envoy accepts client connections.
type Listener struct {
	// Address is an IP address (Envoy listeners do not resolve names).
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// Service says where one catalog service runs.
type Service struct {
	// Endpoints are host:port pairs; Envoy balances across them round
	// robin. A host may be a name, resolved by the control plane.
	Endpoints []string `yaml:"endpoints"`
}

// Parse decodes and validates a config file. Unknown keys are errors, so a
// typo cannot silently leave a setting at its default.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config file is empty")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate reports every problem in the file at once, each naming its entry.
func (c *Config) Validate() error {
	var errs []error
	if _, err := netip.ParseAddr(c.Listener.Address); err != nil {
		errs = append(errs, fmt.Errorf("listener.address: %q is not an IP address", c.Listener.Address))
	}
	if c.Listener.Port < 1 || c.Listener.Port > 65535 {
		errs = append(errs, fmt.Errorf("listener.port: %d is not a port (1-65535)", c.Listener.Port))
	}
	if len(c.Services) == 0 {
		errs = append(errs, fmt.Errorf("services: none configured (known: %s)", strings.Join(catalog.Names(), ", ")))
	}
	if l := c.RateLimits.OAuth; l != nil {
		if l.PerSecond < 0 || l.PerSecond > maxLimit {
			errs = append(errs, fmt.Errorf("rateLimits.oauth.perSecond: %d is not between 0 (no limit) and %d", l.PerSecond, maxLimit))
		}
		if l.Burst < 0 || l.Burst > maxLimit {
			errs = append(errs, fmt.Errorf("rateLimits.oauth.burst: %d is not between 0 (twice perSecond) and %d", l.Burst, maxLimit))
		}
	}
	for _, name := range c.ServiceNames() {
		svc := c.Services[name]
		if _, ok := catalog.Lookup(name); !ok {
			errs = append(errs, fmt.Errorf("services.%s: unknown service (known: %s)", name, strings.Join(catalog.Names(), ", ")))
		}
		if len(svc.Endpoints) == 0 {
			errs = append(errs, fmt.Errorf("services.%s.endpoints: empty", name))
		}
		seen := make(map[string]bool, len(svc.Endpoints))
		for i, ep := range svc.Endpoints {
			if err := checkEndpoint(ep); err != nil {
				errs = append(errs, fmt.Errorf("services.%s.endpoints[%d]: %w", name, i, err))
			} else if seen[ep] {
				errs = append(errs, fmt.Errorf("services.%s.endpoints[%d]: %q is listed twice", name, i, ep))
			}
			seen[ep] = true
		}
	}
	return errors.Join(errs...)
}

func checkEndpoint(ep string) error {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("%q is not host:port", ep)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", ep)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a port (1-65535)", ep, port)
	}
	return nil
}

// ServiceNames returns the configured service names, sorted, so that
// everything built from a config is deterministic.
func (c *Config) ServiceNames() []string {
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ListenerAddr is the listener as host:port.
func (c *Config) ListenerAddr() string {
	return net.JoinHostPort(c.Listener.Address, strconv.Itoa(c.Listener.Port))
}
