package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit/rulecases"
)

// errPassed is what the stand-in store answers once validation let a query
// through: the case was accepted.
var errPassed = errors.New("passed validation")

// passStore stands in for the database after validation.
type passStore struct{ Store }

func (passStore) List(context.Context, Filter, *Position, int) ([]Event, error) {
	return nil, errPassed
}

// TestRuleCases runs the shared table of query filters (testdata/rules.json)
// through the service as its transport does (ParseAgentID, then List); the
// dashboard's audit filter schema runs the same table
// (dashboard/src/lib/rules/rules.test.ts).
func TestRuleCases(t *testing.T) {
	svc := NewService(Config{Store: passStore{}})
	ctx := requestinfo.With(context.Background(), requestinfo.Info{
		Actor: "0190f8a0-0000-7000-8000-000000000001", ViaGateway: true, Owner: "platform",
		Scopes: []string{"audit:read", requestinfo.ScopePlatformAdmin},
	})
	for _, c := range rulecases.Load(t, "testdata/rules.json") {
		t.Run(c.Op+"/"+c.Name, func(t *testing.T) {
			if c.Op != "list" {
				t.Fatalf("unknown op %q", c.Op)
			}
			var in struct {
				AgentID, Action, Outcome, Actor, Owner string
				StartTime, EndTime                     time.Time
			}
			c.Decode(t, &in)
			agentID, err := ParseAgentID(in.AgentID)
			if err == nil {
				_, err = svc.List(ctx, Query{PageSize: DefaultPageSize, Filter: Filter{
					AgentID: agentID, Action: in.Action, Outcome: in.Outcome, Actor: in.Actor, Owner: in.Owner,
					Start: in.StartTime, End: in.EndTime,
				}})
			}
			c.Check(t, err, errPassed)
		})
	}
}
