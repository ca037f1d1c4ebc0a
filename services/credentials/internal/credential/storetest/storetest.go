// Package storetest is the conformance suite every implementation of the
// credentials service's stores must pass: the credential lifecycle with
// its pending rows and check-and-set rotations, verification reads, the
// reconciler's undo, the agents projection, grace periods and the change
// feed, run against the real backing store (internal/store/postgres runs
// it against PostgreSQL).
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/agents"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	grpctransport "github.com/sentryagent/agentidp/services/credentials/internal/transport/grpc"
)

// Stores is every store interface the service's packages declare, which
// one implementation provides.
type Stores interface {
	credential.AllStores // Store, VerifyStore, PendingStore, ProjectionReader, VaultMigrationStore
	credential.GraceStore
	credential.LegacyStore
	credential.UsageStore
	agents.ProjectionStore
	grpctransport.EventLog
}

// Run runs the suite. newStores returns empty stores for each subtest,
// with whatever runs in the background for WaitForEvents to wake (the
// PostgreSQL store's Listen) already started.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Lifecycle", lifecycleTests},
		{"Pending", pendingTests},
		{"Verify", verifyTests},
		{"Projection", projectionTests},
		{"Feed", feedTests},
		{"VaultMigration", migrateTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, &fixture{t: t, s: newStores(t)}) })
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

var ctx = context.Background()

// now is a store-precision timestamp (PostgreSQL keeps microseconds).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

// fixture builds the state a test starts from.
type fixture struct {
	t   *testing.T
	s   Stores
	seq int64 // the registry feed's sequence, for ApplyAgent
}

// agent projects a new agent with status and owner and returns its id.
func (f *fixture) agent(status, owner string) uuid.UUID {
	f.t.Helper()
	id := uuid.Must(uuid.NewV7())
	f.apply(credential.Agent{ID: id, Status: status, Scopes: []string{"agents:read"}, Owner: owner})
	return id
}

// apply applies an agent event at the next feed sequence.
func (f *fixture) apply(a credential.Agent) []uuid.UUID {
	f.t.Helper()
	f.seq++
	revoked, err := f.s.ApplyAgent(ctx, a, f.seq, now())
	if err != nil {
		f.t.Fatalf("apply agent: %v", err)
	}
	return revoked
}

// newCredential returns a credential of agentID as the service builds it.
func newCredential(agentID uuid.UUID, state credential.State) credential.Credential {
	id := uuid.Must(uuid.NewV7())
	c := credential.Credential{ID: id, AgentID: agentID, State: state, CreatedAt: now(), SecretVersion: 1, Storage: credential.StorageHash}
	if state == credential.StatePending {
		c.VaultPath, c.Storage = vaultPath(agentID, id), credential.StorageVault
	}
	return c
}

func vaultPath(agentID, id uuid.UUID) string {
	return fmt.Sprintf("secret/agentidp/credentials/%s/%s", agentID, id)
}

// hashed creates an active credential in embedded mode with verifier hash.
func (f *fixture) hashed(agentID uuid.UUID, hash string) credential.Credential {
	f.t.Helper()
	c, err := f.s.CreateActive(ctx, newCredential(agentID, credential.StateActive), credential.Verifier{Version: 1, Hash: hash})
	if err != nil {
		f.t.Fatalf("create active: %v", err)
	}
	return c
}

// pending commits a pending credential (Vault mode, before the Vault write).
func (f *fixture) pending(agentID uuid.UUID) credential.Credential {
	f.t.Helper()
	c := newCredential(agentID, credential.StatePending)
	if err := f.s.CreatePending(ctx, c); err != nil {
		f.t.Fatalf("create pending: %v", err)
	}
	return c
}

// inVault creates a pending credential and activates it with KV version 1.
func (f *fixture) inVault(agentID uuid.UUID) credential.Credential {
	f.t.Helper()
	c, err := f.s.Activate(ctx, f.pending(agentID).ID, 1)
	if err != nil {
		f.t.Fatalf("activate: %v", err)
	}
	return c
}

func (f *fixture) get(c credential.Credential) credential.Credential {
	f.t.Helper()
	got, err := f.s.Get(ctx, c.AgentID, c.ID)
	if err != nil {
		f.t.Fatalf("get: %v", err)
	}
	return got
}

func (f *fixture) rotate(c credential.Credential, hash string, grace time.Duration, at time.Time) credential.Credential {
	f.t.Helper()
	out, err := f.s.RotateHashed(ctx, c.AgentID, c.ID, func(credential.Credential) error { return nil },
		credential.Verifier{Hash: hash}, grace, at)
	if err != nil {
		f.t.Fatalf("rotate: %v", err)
	}
	return out
}

// events returns the whole change feed.
func (f *fixture) events() []credential.Event {
	f.t.Helper()
	evs, err := f.s.EventsAfter(ctx, 0, 10_000)
	if err != nil {
		f.t.Fatalf("events: %v", err)
	}
	return evs
}

// eventsOf returns the types of the feed's events about credential id.
func (f *fixture) eventsOf(id uuid.UUID) []credential.EventType {
	f.t.Helper()
	var out []credential.EventType
	for _, e := range f.events() {
		if e.CredentialID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

func (f *fixture) pendingCredentials() []uuid.UUID {
	f.t.Helper()
	ids, err := f.s.PendingCredentials(ctx, now().Add(time.Hour))
	if err != nil {
		f.t.Fatalf("pending credentials: %v", err)
	}
	return ids
}

func (f *fixture) pendingRotations() []uuid.UUID {
	f.t.Helper()
	ids, err := f.s.PendingRotations(ctx, now().Add(time.Hour))
	if err != nil {
		f.t.Fatalf("pending rotations: %v", err)
	}
	return ids
}

// sameTime reports whether two optional instants are equal.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Verifiers as the service writes them; the store never interprets them
// beyond telling bcrypt ("$2") from the rest.
const (
	bcryptHash = "$2a$10$abcdefghijklmnopqrstuuK8fLqgW5QzYQ9cJ7yZ8pQ1rS2tU3vW4"
	shaHash    = "sha256$0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	shaHash2   = "sha256$aa1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)
