module github.com/sentryagent/agentidp/services/credentials

go 1.26.0

require github.com/sentryagent/agentidp/libs v0.0.0-00010101000000-000000000000

// libs lives in this repository; go.work resolves it too, the replace keeps
// GOWORK=off builds (container images, go mod tidy) working.
replace github.com/sentryagent/agentidp/libs => ../../libs
