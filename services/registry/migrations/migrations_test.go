package migrations_test

import (
	"testing"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// Every migration applies in order, rolls back, and applies again.
func TestMigrationsUpDownUp(t *testing.T) { testkit.CheckMigrations(t, migrations.FS) }
