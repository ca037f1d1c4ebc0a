package vaultstore_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

// docs/token.md shows the policy the tests and the local stack give the
// service, verbatim.
func TestPolicyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../../docs/token.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), vaultstore.Policy) {
		t.Fatal("docs/token.md does not show vaultstore.Policy verbatim")
	}
}
