package credential

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/testkit/rulecases"
)

// errPassed is what the stand-in directory answers once validation let a
// call through: the case was accepted.
var errPassed = errors.New("passed validation")

// passDirectory stands in for the registry, which the service asks for
// the agent right after validating the request.
type passDirectory struct{}

func (passDirectory) GetAgent(context.Context, uuid.UUID) (Agent, error) { return Agent{}, errPassed }

// TestRuleCases runs the shared table of inputs (testdata/rules.json)
// through the service; the dashboard's credential forms run the same table
// (dashboard/src/lib/rules/rules.test.ts).
func TestRuleCases(t *testing.T) {
	svc := New(Config{Directory: passDirectory{}})
	const agentID, credentialID = "0190f8a0-0000-7000-8000-0000000000aa", "0190f8a0-0000-7000-8000-0000000000bb"
	for _, c := range rulecases.Load(t, "testdata/rules.json") {
		t.Run(c.Op+"/"+c.Name, func(t *testing.T) {
			var in struct{ TTLSeconds, GracePeriodSeconds int64 }
			c.Decode(t, &in)
			var err error
			switch c.Op {
			case "generate":
				_, err = svc.Create(context.Background(), agentID, in.TTLSeconds)
			case "rotate":
				_, err = svc.Rotate(context.Background(), agentID, credentialID, in.GracePeriodSeconds)
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			c.Check(t, err, errPassed)
		})
	}
}
