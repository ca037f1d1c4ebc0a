module github.com/sentryagent/agentidp/services/registry

go 1.26.0
