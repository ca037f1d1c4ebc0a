package agent

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit/rulecases"
)

// errPassed is what the stand-in store answers once validation let a call
// through: the case was accepted.
var errPassed = errors.New("passed validation")

// passStore stands in for the database after validation: every call that
// reaches it was accepted, and nothing is stored.
type passStore struct{ Store }

func (passStore) Create(context.Context, Agent, string) (Agent, bool, error) {
	return Agent{}, false, errPassed
}

func (passStore) Update(context.Context, uuid.UUID, Scope, func(*Agent) (bool, error)) (Agent, error) {
	return Agent{}, errPassed
}

func (passStore) List(context.Context, Scope, Filter, uuid.UUID, int) ([]Agent, error) {
	return nil, errPassed
}

// TestRuleCases runs the shared table of inputs (testdata/rules.json)
// through the service; the dashboard's schemas run the same table
// (dashboard/src/lib/rules/rules.test.ts), so the two cannot disagree on
// what an agent may be.
func TestRuleCases(t *testing.T) {
	svc := NewService(Config{Store: passStore{}})
	// A platform admin of its own owner: it may name any owner and grant
	// any scope, so only the fields' rules can refuse a case.
	ctx := requestinfo.With(context.Background(), requestinfo.Info{
		Actor: "0190f8a0-0000-7000-8000-000000000001", ViaGateway: true, Owner: "platform",
		Scopes: []string{"agents:read", "agents:write", requestinfo.ScopePlatformAdmin},
	})
	for _, c := range rulecases.Load(t, "testdata/rules.json") {
		t.Run(c.Op+"/"+c.Name, func(t *testing.T) {
			var err error
			switch c.Op {
			case "register":
				var f Fields
				c.Decode(t, &f)
				_, err = svc.Register(ctx, f, "")
			case "update":
				var f Fields
				c.Decode(t, &f)
				var fields map[string]any
				c.Decode(t, &fields)
				paths := make([]string, 0, len(fields))
				for name := range fields {
					paths = append(paths, name)
				}
				slices.Sort(paths)
				_, err = svc.Update(ctx, Update{ID: "0190f8a0-0000-7000-8000-0000000000aa", Fields: f, Paths: paths})
			case "list":
				var f Filter
				c.Decode(t, &f)
				_, err = svc.List(ctx, ListQuery{Filter: f, PageSize: DefaultPageSize})
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			c.Check(t, err, errPassed)
		})
	}
}
