module github.com/sentryagent/agentidp/deploy/local

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.4
	github.com/jackc/pgx/v5 v5.13.0
	github.com/sentryagent/agentidp/gateway v0.0.0-00010101000000-000000000000
	github.com/sentryagent/agentidp/libs v0.0.0-00010101000000-000000000000
	golang.org/x/oauth2 v0.36.0
	google.golang.org/grpc v1.85.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// Sibling modules of this repository; go.work resolves them too, the
// replaces keep GOWORK=off builds and go mod tidy working.
replace (
	github.com/sentryagent/agentidp/gateway => ../../gateway
	github.com/sentryagent/agentidp/libs => ../../libs
)
