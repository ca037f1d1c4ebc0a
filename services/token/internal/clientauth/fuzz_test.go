package clientauth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

var clientIDShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// FuzzAuthenticateRejects: a client id that cannot be an agent id, or a
// secret that is empty or too long, is refused as invalid_client before
// anything is looked up — the authenticator here has no cache and no
// credentials service, so reaching either would panic. Accepted ids keep
// the cache key's "client_id ‖ 0 ‖ secret" unambiguous and hold nothing
// that means something in a Redis key.
func FuzzAuthenticateRejects(f *testing.F) {
	for _, id := range []string{"0190f8a0-0000-7000-8000-000000000000", "", "a b", "a:b", "{a}", "a\x00b", "é",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "../admin", "' OR 1=1--", "a\nb"} {
		f.Add(id, "agentidp_sk_secret", "x", "y")
	}
	f.Add("a1", "", "a1", "b")
	f.Add("a1", strings.Repeat("s", 513), "a1\x00b", "")
	a := New(Config{}) // no Cache, no Verifier, no Feeds
	f.Fuzz(func(t *testing.T, id, secret, id2, secret2 string) {
		valid := validClientID(id)
		if valid != clientIDShape.MatchString(id) {
			t.Fatalf("validClientID(%q) = %v", id, valid)
		}
		if valid && strings.ContainsAny(id, "{}: \x00") {
			t.Fatalf("accepted id %q holds Redis key syntax or the separator", id)
		}
		if valid && validClientID(id2) && id+"\x00"+secret == id2+"\x00"+secret2 && (id != id2 || secret != secret2) {
			t.Fatalf("(%q, %q) and (%q, %q) share a cache key", id, secret, id2, secret2)
		}
		if valid && secret != "" && len(secret) <= maxSecret {
			return // would need the cache
		}
		_, err := a.Authenticate(context.Background(), oauth.ClientCredentials{ClientID: id, Secret: secret}, true)
		if !errors.Is(err, oauth.ErrInvalidClient) {
			t.Fatalf("Authenticate(%q, %d-byte secret) = %v, want invalid_client", id, len(secret), err)
		}
	})
}
