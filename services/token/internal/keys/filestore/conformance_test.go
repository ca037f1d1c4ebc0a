package filestore_test

import (
	"testing"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/filestore"
	"github.com/sentryagent/agentidp/services/token/internal/keys/storetest"
)

// The file store passes the keys.Store conformance suite; replicas are
// stores opened on the same directory (replicas on one host).
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (keys.Store, func() keys.Store) {
		dir := t.TempDir()
		kek := make([]byte, 32)
		kek[0] = 7
		open := func() keys.Store {
			s, err := filestore.New(dir, kek)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	})
}
