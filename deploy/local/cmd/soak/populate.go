package main

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/sentryagent/agentidp/deploy/local/stack"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// populate registers the fleet straight at the registry and credentials
// services over gRPC (as the stack's admin bootstrap does): the admin's own
// write rate limit through the gateway would make a few hundred
// registrations take a minute, and the set-up is not what the soak
// measures. Every agent then gets its first token through the gateway.
func populate(ctx context.Context, s *stack.Stack, f *fleet, readers, writers int) error {
	// As the operators' mesh identity (libs/mtls.Mesh allows it these calls).
	regConn, err := s.DialService(mtls.Registry, s.Ports().RegistryGRPC, mtls.Bootstrap)
	if err != nil {
		return err
	}
	defer regConn.Close()
	credConn, err := s.DialService(mtls.Credentials, s.Ports().CredentialsGRPC, mtls.Bootstrap)
	if err != nil {
		return err
	}
	defer credConn.Close()
	registry := registryv1.NewRegistryServiceClient(regConn)
	creds := credentialsv1.NewCredentialsServiceClient(credConn)

	f.readers = make([]*agent, readers)
	f.writers = make([]*agent, writers)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	one := func(i int) error {
		scopes, name := []string{"agents:read"}, fmt.Sprintf("soak-reader-%d", i)
		if i >= readers {
			scopes, name = []string{"agents:read", "agents:write"}, fmt.Sprintf("soak-writer-%d", i-readers)
		}
		a, err := registry.CreateAgent(ctx, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
			Name: name, Owner: "team-soak", AgentType: "assistant", Version: "1.0.0", Scopes: scopes,
		}})
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		c, err := creds.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: a.GetAgentId()})
		if err != nil {
			return fmt.Errorf("credential for %s: %w", name, err)
		}
		ag := &agent{id: a.GetAgentId(), clientID: c.GetClientId(), secret: c.GetClientSecret()}
		if status, detail := f.issue(ctx, ag); status != 200 {
			return fmt.Errorf("first token for %s: status %d %s", name, status, detail)
		}
		if i < readers {
			f.readers[i] = ag
		} else {
			f.writers[i-readers] = ag
		}
		return nil
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := one(i); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range readers + writers {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}
