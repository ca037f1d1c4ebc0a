// Package migrations embeds the audit service's numbered SQL migrations,
// applied in order at start-up by libs/postgres.Migrate (as the owner of the
// database, before the service drops to its restricted role).
package migrations

import "embed"

// FS holds NNN_description.sql files.
//
//go:embed *.sql
var FS embed.FS
