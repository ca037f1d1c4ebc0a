module github.com/sentryagent/agentidp/sdks/go

go 1.24
