module github.com/sentryagent/agentidp/tools/vault

go 1.26.0

require (
	github.com/hashicorp/vault v1.21.0
	github.com/hashicorp/vault/api v1.22.0
	github.com/hashicorp/vault/sdk v0.20.0
)
