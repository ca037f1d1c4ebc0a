package auditlog

import (
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestByteLoopChecksMatchTheirPatterns(t *testing.T) {
	action := regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.`)
	for _, s := range []string{
		"agent.registered", "token.issued", "a.b", "a.b.c_d9", "agent", "agent.", ".agent", "Agent.x",
		"agent..x", "agent.9x", "a_.b", "", "a.b-c", "eyJhbGciOiJ.eyJzdWIiOiJ.sig", "x eyJab.eyJcd.", "eyJa.eyJab.",
		"eyJab.eyJa.", "eyJab.eyJab", "eyJeyJab.eyJab.x", "eyJab.eyJab.eyJ", "foo eyJab eyJab.eyJab.",
	} {
		if got, want := ValidAction(s), action.MatchString(s); got != want {
			t.Errorf("ValidAction(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := containsJWT(s), jwt.MatchString(s); got != want {
			t.Errorf("containsJWT(%q) = %v, regexp says %v", s, got, want)
		}
	}
}

func BenchmarkNormalizeValidate(b *testing.B) {
	e := Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now(), Actor: "system", Action: ActionTokenIssued,
		Target: "token:abc", AgentID: uuid.NewString(), Outcome: OutcomeSuccess,
		Details: map[string]string{"scope": "agents:read audit:read", "client_id": uuid.NewString(), "expires_in": "900"}}
	for i := 0; i < b.N; i++ {
		if err := Normalize(e).Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
