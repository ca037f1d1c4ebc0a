// Package migrations embeds the registry's numbered SQL migrations, applied
// in order at start-up by libs/postgres.Migrate.
package migrations

import "embed"

// FS holds NNN_description.sql files.
//
//go:embed *.sql
var FS embed.FS
