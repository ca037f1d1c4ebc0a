module github.com/sentryagent/idp-sdk-go

go 1.24
