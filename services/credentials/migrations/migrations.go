// Package migrations embeds the credentials service's numbered SQL
// migrations, applied in order at start-up by libs/postgres.Migrate.
package migrations

import "embed"

// FS holds NNN_description.sql files. 001–004 are the phase-1 schema
// (secrets as bcrypt hashes); 005 adds Vault.
//
//go:embed *.sql
var FS embed.FS
