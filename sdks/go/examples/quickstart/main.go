// Quickstart: register an agent, give it a credential, call the API as that
// agent, and handle an error. Run it against `make dev`:
//
//	. .dev/env && go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

func main() {
	ctx := context.Background()
	admin, err := idp.New(idp.Config{
		BaseURL:      os.Getenv("AGENTIDP_URL"), // the gateway, e.g. http://127.0.0.1:8080
		ClientID:     os.Getenv("AGENTIDP_CLIENT_ID"),
		ClientSecret: idp.Secret(os.Getenv("AGENTIDP_CLIENT_SECRET")),
	})
	if err != nil {
		log.Fatal(err)
	}

	agent, err := admin.Agents.Register(ctx, idp.AgentInput{
		Name: "invoice-bot", Owner: "team-finance", Scopes: []string{"agents:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	cred, err := admin.Credentials.Generate(ctx, agent.AgentID, 0)
	if err != nil {
		log.Fatal(err)
	}
	// Printing a Secret shows [REDACTED]; cred.ClientSecret.Reveal() is the
	// value to store in your secret manager. It is never shown again.
	fmt.Println("registered", agent.AgentID, "secret", cred.ClientSecret)

	// The agent itself: the client gets and refreshes its own token.
	bot, err := idp.New(idp.Config{
		BaseURL: os.Getenv("AGENTIDP_URL"), ClientID: cred.ClientID, ClientSecret: cred.ClientSecret,
	})
	if err != nil {
		log.Fatal(err)
	}
	me, err := bot.Agents.Get(ctx, agent.AgentID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("I am", me.Name, "and I am", me.Status)

	// Lists are iterators that fetch pages as you go.
	for a, err := range admin.Agents.List(ctx, idp.AgentFilter{Owner: "team-finance", Status: idp.StatusActive}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("active in team-finance:", a.Name)
	}

	// Errors carry a stable code.
	_, err = admin.Agents.Get(ctx, "0190f8a0-0000-7000-8000-000000000000")
	var apiErr *idp.AgentIdPError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Code, apiErr.HTTPStatus) // AGENT_NOT_FOUND 404
	}

	if _, err := admin.Agents.Decommission(ctx, agent.AgentID); err != nil {
		log.Fatal(err)
	}
}
