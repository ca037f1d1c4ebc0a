import { describe, expect, it } from "vitest";

import { jwt } from "@/test/fake";

import { agentPermission, isPlatformAdmin, jwtClaims, permission, tokenExpiry, tokenOwner, tokenScopes, type AgentAction } from "./scopes";

describe("token claims", () => {
  it("reads the space-separated scope claim (RFC 9068)", () => {
    expect([...tokenScopes(jwt({ scope: "agents:read audit:read" }))]).toEqual(["agents:read", "audit:read"]);
  });
  it("reads an scp array", () => {
    expect([...tokenScopes(jwt({ scp: ["agents:write", 3] }))]).toEqual(["agents:write"]);
  });
  it("treats anything else as no scope", () => {
    for (const t of ["", "garbage", "a.b.c", jwt({ scope: 7 }), "x.eyJzY29wZSI6.y"]) expect(tokenScopes(t).size).toBe(0);
  });
  it("decodes base64url with non-ASCII text", () => {
    expect(jwtClaims(jwt({ sub: "ägent/±" }))?.["sub"]).toBe("ägent/±");
  });
  it("reads the owner claim", () => {
    expect(tokenOwner(jwt({ owner: "team-a" }))).toBe("team-a");
    for (const t of [jwt({}), jwt({ owner: "" }), jwt({ owner: 7 }), "garbage"]) expect(tokenOwner(t)).toBeUndefined();
  });
  it("reads the expiry", () => {
    expect(tokenExpiry(jwt({ exp: 1_700_000_000 }))?.toISOString()).toBe("2023-11-14T22:13:20.000Z");
    expect(tokenExpiry(jwt({}))).toBeUndefined();
  });
});

describe("permission", () => {
  const cases = [
    { scopes: ["agents:read"], action: "listAgents", allowed: true },
    { scopes: ["agents:read"], action: "registerAgent", allowed: false, reason: "agents:write" },
    { scopes: ["agents:write"], action: "generateCredential", allowed: false, reason: "credentials:write" },
    { scopes: ["credentials:write"], action: "rotateCredential", allowed: true },
    { scopes: [], action: "readAudit", allowed: false, reason: "audit:read" },
    { scopes: ["audit:read"], action: "verifyAuditChain", allowed: false, reason: "platform:admin" },
    { scopes: ["audit:read", "platform:admin"], action: "verifyAuditChain", allowed: true },
  ] as const;
  for (const c of cases) {
    it(`${c.action} with [${c.scopes.join(" ")}]`, () => {
      const p = permission(new Set(c.scopes), c.action);
      expect(p.allowed).toBe(c.allowed);
      if (!p.allowed && "reason" in c) expect(p.reason).toContain(c.reason);
    });
  }
});

describe("agentPermission (the tenancy and escalation rules)", () => {
  const SELF = "0190AAAA-0000-7000-8000-000000000001";
  const OTHER = "01900000-0000-7000-8000-000000000002";
  const manager = ["agents:read", "agents:write", "credentials:write"];
  const cases: Array<{ name: string; caller: string[]; agent: { id: string; scopes: string[] }; action: AgentAction; allowed: boolean; reason?: RegExp }> = [
    { name: "an agent no more powerful than the caller", caller: manager, agent: { id: OTHER, scopes: ["agents:read"] }, action: "generateCredential", allowed: true },
    { name: "a more powerful agent's credential", caller: manager, agent: { id: OTHER, scopes: ["agents:read", "audit:read"] }, action: "generateCredential", allowed: false, reason: /\(audit:read\): only a platform admin/ },
    { name: "suspending a more powerful agent", caller: manager, agent: { id: OTHER, scopes: ["tokens:introspect", "audit:read"] }, action: "updateAgent", allowed: false, reason: /scopes your token does not carry \(tokens:introspect, audit:read\)/ },
    { name: "a platform admin reaches any agent", caller: ["agents:write", "credentials:write", "platform:admin"], agent: { id: OTHER, scopes: ["audit:read"] }, action: "revokeCredential", allowed: true },
    { name: "the scope comes first", caller: ["agents:read"], agent: { id: OTHER, scopes: [] }, action: "rotateCredential", allowed: false, reason: /credentials:write/ },
    { name: "its own rotation, with every scope of it (any case of the id)", caller: ["agents:read"], agent: { id: SELF.toLowerCase(), scopes: ["agents:read"] }, action: "rotateCredential", allowed: true },
    { name: "its own rotation with a narrowed token", caller: ["agents:read", "credentials:write"], agent: { id: SELF, scopes: ["agents:read", "credentials:write", "audit:read"] }, action: "rotateCredential", allowed: false, reason: /Your agent holds a scope/ },
    { name: "its own record (the page says why not)", caller: manager, agent: { id: SELF, scopes: [...manager, "audit:read"] }, action: "updateAgent", allowed: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = agentPermission({ clientId: SELF, scopes: new Set(c.caller) }, { agentId: c.agent.id, name: "bot", scopes: c.agent.scopes }, c.action);
      expect(p.allowed).toBe(c.allowed);
      if (!p.allowed && c.reason) expect(p.reason).toMatch(c.reason);
    });
  }
  it("knows a platform admin", () => {
    expect(isPlatformAdmin(new Set(["platform:admin"]))).toBe(true);
    expect(isPlatformAdmin(new Set(["agents:write"]))).toBe(false);
  });
});
