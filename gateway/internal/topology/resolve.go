package topology

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// Resolver looks up the IP addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolved is a config whose endpoints are IP addresses, which is what
// Envoy's EDS needs. The control plane resolves names (not Envoy) so that a
// changed address is an EDS push like any other endpoint change.
type Resolved struct {
	Config    *Config
	Listener  netip.AddrPort
	Endpoints map[string][]netip.AddrPort // by service name; sorted, unique
}

// Resolve turns every endpoint host into its addresses. A name with several
// addresses becomes several endpoints.
func (c *Config) Resolve(ctx context.Context, r Resolver) (*Resolved, error) {
	addr, err := netip.ParseAddr(c.Listener.Address)
	if err != nil {
		return nil, fmt.Errorf("listener.address: %w", err)
	}
	res := &Resolved{
		Config:    c,
		Listener:  netip.AddrPortFrom(addr.Unmap(), uint16(c.Listener.Port)),
		Endpoints: make(map[string][]netip.AddrPort, len(c.Services)),
	}
	for _, name := range c.ServiceNames() {
		var eps []netip.AddrPort
		for i, ep := range c.Services[name].Endpoints {
			host, portStr, err := net.SplitHostPort(ep)
			if err != nil {
				return nil, fmt.Errorf("services.%s.endpoints[%d]: %w", name, i, err)
			}
			port, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("services.%s.endpoints[%d]: port: %w", name, i, err)
			}
			ips, err := lookup(ctx, r, host)
			if err != nil {
				return nil, fmt.Errorf("services.%s.endpoints[%d]: resolve %q: %w", name, i, host, err)
			}
			for _, ip := range ips {
				eps = append(eps, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
			}
		}
		slices.SortFunc(eps, func(a, b netip.AddrPort) int { return a.Compare(b) })
		res.Endpoints[name] = slices.Compact(eps)
	}
	return res, nil
}

// HasNames reports whether any endpoint is a host name, i.e. whether the
// config must be resolved again from time to time.
func (c *Config) HasNames() bool {
	for _, svc := range c.Services {
		for _, ep := range svc.Endpoints {
			host, _, err := net.SplitHostPort(ep)
			if err != nil {
				continue
			}
			if _, err := netip.ParseAddr(host); err != nil {
				return true
			}
		}
	}
	return false
}

func lookup(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no addresses")
	}
	return ips, nil
}
