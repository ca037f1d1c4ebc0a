module github.com/sentryagent/agentidp/deploy/local

go 1.26.0

require (
	github.com/sentryagent/agentidp/gateway v0.0.0-00010101000000-000000000000
	github.com/sentryagent/agentidp/libs v0.0.0-00010101000000-000000000000
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.13.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

// Sibling modules of this repository; go.work resolves them too, the
// replaces keep GOWORK=off builds and go mod tidy working.
replace (
	github.com/sentryagent/agentidp/gateway => ../../gateway
	github.com/sentryagent/agentidp/libs => ../../libs
)
