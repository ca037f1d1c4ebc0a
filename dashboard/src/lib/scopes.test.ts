import { describe, expect, it } from "vitest";

import { jwt } from "@/test/fake";

import { jwtClaims, permission, tokenExpiry, tokenScopes } from "./scopes";

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
  ] as const;
  for (const c of cases) {
    it(`${c.action} with [${c.scopes.join(" ")}]`, () => {
      const p = permission(new Set(c.scopes), c.action);
      expect(p.allowed).toBe(c.allowed);
      if (!p.allowed && "reason" in c) expect(p.reason).toContain(c.reason);
    });
  }
});
