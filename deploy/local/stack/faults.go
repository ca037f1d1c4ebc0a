package stack

import (
	"context"
	"fmt"
)

// Components names every process of the mesh that Kill and Restart know:
// the services (all replicas of each), the gateway's control plane, the
// data stores and Envoy.
var Components = []string{
	"registry", "credentials", "token", "audit", "authz", "gateway",
	"postgres", "redis", "vault", "envoy",
}

// Kill crashes a component (SIGKILL to its process group, every replica of
// a service), as a fault-injection test wants: no shutdown hook runs.
func (s *Stack) Kill(component string) error {
	switch component {
	case "gateway":
		s.gateway.Kill()
	case "postgres":
		s.pg.Kill()
	case "redis":
		s.redis.Kill()
	case "vault":
		s.vault.Kill()
	case "envoy":
		s.envoy.Kill()
	default:
		replicas := s.Replicas(component)
		if len(replicas) == 0 {
			return fmt.Errorf("stack: no component %q", component)
		}
		for _, r := range replicas {
			r.Kill()
		}
	}
	return nil
}

// Restart starts a killed (or stopped) component again on the same ports
// and data directory and waits until it accepts connections (Vault: is
// unsealed; Envoy: has its configuration). Nothing else is touched: the
// rest of the mesh must find it again by itself.
func (s *Stack) Restart(ctx context.Context, component string) error {
	switch component {
	case "gateway":
		return s.gateway.Start(ctx)
	case "postgres":
		return s.pg.Restart(ctx)
	case "redis":
		return s.redis.Restart(ctx)
	case "vault":
		return s.vault.Restart(ctx)
	case "envoy":
		return s.envoy.Restart(ctx)
	}
	replicas := s.Replicas(component)
	if len(replicas) == 0 {
		return fmt.Errorf("stack: no component %q", component)
	}
	for _, r := range replicas {
		if err := r.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}
