// Quickstart: register an agent, give it a credential, call the API as that
// agent, and handle an error. Run it against `make dev` (. .dev/env first).
package quickstart;

import ai.sentryagent.idp.Agent;
import ai.sentryagent.idp.AgentFilter;
import ai.sentryagent.idp.AgentIdPClient;
import ai.sentryagent.idp.AgentIdPException;
import ai.sentryagent.idp.AgentInput;
import ai.sentryagent.idp.IssuedCredential;
import java.util.List;

public class Quickstart {
  public static void main(String[] args) {
    String url = System.getenv("AGENTIDP_URL"); // the gateway, e.g. http://127.0.0.1:8080
    try (AgentIdPClient admin = AgentIdPClient.builder(
        url, System.getenv("AGENTIDP_CLIENT_ID"), System.getenv("AGENTIDP_CLIENT_SECRET")).build()) {

      Agent agent = admin.agents().register(
          AgentInput.builder("invoice-bot").owner("team-finance").scopes(List.of("agents:read")).build());
      IssuedCredential cred = admin.credentials().generate(agent.agentId());
      // Printing a Secret shows [REDACTED]; cred.clientSecret().reveal() is the
      // value to store in your secret manager. It is never shown again.
      System.out.println("registered " + agent.agentId() + " secret " + cred.clientSecret());

      // The agent itself: the client gets and refreshes its own token.
      try (AgentIdPClient bot = AgentIdPClient.builder(url, cred.clientId(), cred.clientSecret()).build()) {
        Agent me = bot.agents().get(agent.agentId());
        System.out.println("I am " + me.name() + " and I am " + me.status());
      }

      // Lists are lazy streams that fetch pages as they are consumed.
      admin.agents().list(AgentFilter.all().withOwner("team-finance").withStatus("active"))
          .forEach(a -> System.out.println("active in team-finance: " + a.name()));

      // Errors carry a stable code. Every call also has an async form (getAsync, ...).
      try {
        admin.agents().get("0190f8a0-0000-7000-8000-000000000000");
      } catch (AgentIdPException e) {
        System.out.println(e.code() + " " + e.httpStatus()); // AGENT_NOT_FOUND 404
      }

      admin.agents().decommission(agent.agentId());
    }
  }
}
