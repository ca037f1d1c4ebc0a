import type { Agent } from "@sentryagent/idp-sdk";
import { describe, expect, it } from "vitest";

import { agentFormField, agentFormValues, editAgentForm, emptyAgentForm, registerAgentForm, toAgentChanges, toAgentInput, type AgentFormValues } from "./agent";

const valid: AgentFormValues = { ...emptyAgentForm, name: "invoice-bot" };
const errorsOf = (schema: typeof registerAgentForm | typeof editAgentForm, v: AgentFormValues) => {
  const r = schema.safeParse(v);
  return r.success ? {} : Object.fromEntries(r.error.issues.map((i) => [i.path.join("."), i.message]));
};

describe("registerAgentForm", () => {
  // The registry's own rules are checked against the registry in
  // lib/rules/rules.test.ts; these are the form's: text as typed.
  it.each<[string, Partial<AgentFormValues>, Record<string, string | RegExp>]>([
    ["a name only", {}, {}],
    ["capabilities separated by commas and spaces", { capabilities: "web.search,invoices.read  files/*" }, {}],
    ["a capability the registry refuses", { capabilities: "web.search, bad!" }, { capabilities: /“bad!”/ }],
    ["65 capabilities", { capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`).join(" ") }, { capabilities: /At most 64 capabilities/ }],
    ["a metadata line without =", { metadata: "just-a-key" }, { metadata: "Line 1: write key=value." }],
    ["a metadata line without a key", { metadata: "a=1\n=2" }, { metadata: "Line 2: write key=value." }],
    ["a metadata key twice", { metadata: "a=1\na=2" }, { metadata: "Line 2: the key “a” appears twice." }],
    ["a metadata key the registry refuses", { metadata: "-bad=1" }, { metadata: /Key “-bad”/ }],
    ["a type typed with spaces around it", { agentType: " assistant " }, {}],
    ["an environment typed with spaces around it", { deploymentEnv: " prod " }, {}],
    ["no owner: the caller's", { owner: "" }, {}],
    ["no type: custom", { agentType: "" }, {}],
  ])("%s", (_, change, want) => {
    const got = errorsOf(registerAgentForm, { ...valid, ...change });
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const [k, m] of Object.entries(want)) expect(got[k]).toMatch(m);
  });
});

describe("editAgentForm", () => {
  it("needs an owner and a type, which an update sets", () => {
    expect(errorsOf(editAgentForm, { ...valid, owner: "", agentType: "" })).toEqual({
      owner: "An owner is required.", agentType: "1-63 lower-case letters, digits, - or _, starting with a letter.",
    });
  });
});

describe("toAgentInput", () => {
  it("sends the checked values, leaving empty fields out", () => {
    const v = registerAgentForm.parse({
      ...valid, name: " bot ", capabilities: "a, b a", scopes: ["agents:read"], metadata: "team = e2e\n\ncost-center=42\nurl=https://x/?a=b",
    });
    expect(toAgentInput(v)).toEqual({
      name: "bot", owner: undefined, agentType: undefined, version: undefined, deploymentEnv: undefined, description: undefined,
      capabilities: ["a", "b"], scopes: ["agents:read"], metadata: { team: "e2e", "cost-center": "42", url: "https://x/?a=b" },
    });
  });
});

describe("toAgentChanges", () => {
  const agent: Agent = {
    agentId: "a", name: "bot", owner: "team-a", agentType: "assistant", version: "1", deploymentEnv: "", description: "",
    capabilities: ["a", "b"], scopes: ["agents:read", "audit:read"], metadata: { k: "v" }, status: "active", etag: "3",
  };
  it("is empty for an untouched form", () => {
    expect(toAgentChanges(editAgentForm.parse(agentFormValues(agent)), agent)).toEqual({});
  });
  it("holds only what changed", () => {
    const v = editAgentForm.parse({ ...agentFormValues(agent), version: "2", scopes: ["audit:read", "agents:read"], metadata: "k=v\nx=y" });
    expect(toAgentChanges(v, agent)).toEqual({ version: "2", metadata: { k: "v", x: "y" } });
  });
});

describe("agentFormField", () => {
  it("maps the server's field paths to form fields", () => {
    expect(agentFormField("agent.name")).toBe("name");
    expect(agentFormField("agent.metadata.team")).toBe("metadata");
    expect(agentFormField("agent.scopes[2]")).toBe("scopes");
    expect(agentFormField("requestId")).toBeUndefined();
    expect(agentFormField("")).toBeUndefined();
  });
});
