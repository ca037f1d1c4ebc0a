package migrations_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The feed cursor table is the one libs/postgres's FeedCursor expects.
func TestCursorTableMatchesFeed(t *testing.T) {
	b, err := fs.ReadFile(migrations.FS, "003_agents_projection.sql")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), postgres.FeedCursorTableSQL) {
		t.Fatal("003_agents_projection.sql does not contain postgres.FeedCursorTableSQL verbatim")
	}
	if _, err := fs.ReadFile(migrations.FS, "005_add_vault_path.sql"); err != nil {
		t.Fatal("005_add_vault_path.sql must exist under that name (deployments and docs name it)")
	}
}

// Every migration applies in order, rolls back, and applies again.
func TestMigrationsUpDownUp(t *testing.T) { testkit.CheckMigrations(t, migrations.FS) }
