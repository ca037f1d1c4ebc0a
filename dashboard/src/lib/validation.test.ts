import { describe, expect, it } from "vitest";

import { emptyAgentForm, formFieldOf, parseMetadata, toAgentInput, validateAgentForm, type AgentForm } from "./validation";

const valid: AgentForm = { ...emptyAgentForm, name: "invoice-bot", owner: "team-finance" };

describe("validateAgentForm", () => {
  const cases: Array<[string, Partial<AgentForm>, keyof AgentForm | undefined]> = [
    ["valid", {}, undefined],
    ["name required", { name: "   " }, "name"],
    ["name of 128 characters", { name: "é".repeat(128) }, undefined],
    ["name of 129 characters", { name: "x".repeat(129) }, "name"],
    ["owner optional (the caller's own)", { owner: "" }, undefined],
    ["owner of 257 characters", { owner: "x".repeat(257) }, "owner"],
    ["type pattern", { agentType: "Assistant" }, "agentType"],
    ["type ok", { agentType: "assistant_v2" }, undefined],
    ["version pattern", { version: "1.0 beta" }, "version"],
    ["version ok", { version: "1.2.0+build.5" }, undefined],
    ["env pattern", { deploymentEnv: "Prod" }, "deploymentEnv"],
    ["capability alphabet", { capabilities: "web.search, bad capability!" }, "capabilities"],
    ["capabilities ok", { capabilities: "web.search,invoices.read  files/*" }, undefined],
    ["too many capabilities", { capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`).join(" ") }, "capabilities"],
    ["metadata line without =", { metadata: "just-a-key" }, "metadata"],
    ["metadata key pattern", { metadata: "-bad=1" }, "metadata"],
    ["metadata duplicate key", { metadata: "a=1\na=2" }, "metadata"],
    ["metadata value of 257 bytes", { metadata: `k=${"x".repeat(257)}` }, "metadata"],
    ["33 metadata entries", { metadata: Array.from({ length: 33 }, (_, i) => `k${i}=v`).join("\n") }, "metadata"],
    ["description of 1025 characters", { description: "x".repeat(1025) }, "description"],
  ];
  for (const [name, change, field] of cases) {
    it(name, () => {
      const errors = validateAgentForm({ ...valid, ...change });
      if (field) expect(Object.keys(errors)).toEqual([field]);
      else expect(errors).toEqual({});
    });
  }
});

describe("toAgentInput", () => {
  it("trims, splits lists, parses metadata and leaves empty fields out", () => {
    const input = toAgentInput({
      ...valid, name: " bot ", capabilities: "a, b c", scopes: ["agents:read"], metadata: "team = e2e\n\ncost-center=42",
    });
    expect(input).toEqual({
      name: "bot", owner: "team-finance", agentType: undefined, version: undefined, deploymentEnv: undefined, description: undefined,
      capabilities: ["a", "b", "c"], scopes: ["agents:read"], metadata: { team: "e2e", "cost-center": "42" },
    });
  });
  it("keeps = inside values", () => {
    expect(parseMetadata("url=https://x/?a=b").entries).toEqual({ url: "https://x/?a=b" });
  });
});

describe("formFieldOf", () => {
  it("maps the server's field paths to form fields", () => {
    expect(formFieldOf("agent.name")).toBe("name");
    expect(formFieldOf("agent.metadata.team")).toBe("metadata");
    expect(formFieldOf("agent.scopes[2]")).toBe("scopes");
    expect(formFieldOf("pageSize")).toBeUndefined();
    expect(formFieldOf(undefined)).toBeUndefined();
  });
});
