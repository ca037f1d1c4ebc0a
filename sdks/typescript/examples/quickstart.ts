// Quickstart: register an agent, give it a credential, call the API as that
// agent, and handle an error. Run it against `make dev` with Node 20+ and a
// TypeScript runner:
//
//   . .dev/env && npx tsx examples/quickstart.ts
import { AgentIdPClient, AgentIdPError } from "@sentryagent/idp-sdk";

const baseUrl = process.env["AGENTIDP_URL"]!; // the gateway, e.g. http://127.0.0.1:8080
const admin = new AgentIdPClient({
  baseUrl,
  clientId: process.env["AGENTIDP_CLIENT_ID"]!,
  clientSecret: process.env["AGENTIDP_CLIENT_SECRET"]!,
});

const agent = await admin.agents.register({ name: "invoice-bot", owner: "team-finance", scopes: ["agents:read"] });
const cred = await admin.credentials.generate(agent.agentId);
// Printing a Secret shows [REDACTED]; cred.clientSecret.reveal() is the value
// to store in your secret manager. It is never shown again.
console.log("registered", agent.agentId, "secret", `${cred.clientSecret}`);

// The agent itself: the client gets and refreshes its own token.
const bot = new AgentIdPClient({ baseUrl, clientId: cred.clientId, clientSecret: cred.clientSecret });
const me = await bot.agents.get(agent.agentId);
console.log("I am", me.name, "and I am", me.status);

// Lists are async iterators that fetch pages as you go.
for await (const a of admin.agents.list({ owner: "team-finance", status: "active" })) {
  console.log("active in team-finance:", a.name);
}

// Errors carry a stable code.
try {
  await admin.agents.get("0190f8a0-0000-7000-8000-000000000000");
} catch (e) {
  if (e instanceof AgentIdPError) console.log(e.code, e.httpStatus); // AGENT_NOT_FOUND 404
}

await admin.agents.decommission(agent.agentId);
