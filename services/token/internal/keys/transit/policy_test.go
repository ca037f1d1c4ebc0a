package transit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/services/token/internal/keys/transit"
)

// TestPolicyIsDocumented: docs/token.md shows the policy operators give the
// service, verbatim.
func TestPolicyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../../docs/token.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), transit.Policy) {
		t.Fatal("docs/token.md does not show transit.Policy verbatim")
	}
	for _, never := range []string{"export", "backup", "config", "trim", "delete"} {
		if strings.Contains(transit.Policy, never) {
			t.Errorf("the policy mentions %q", never)
		}
	}
}
