import { AgentIdPError } from "@sentryagent/idp-sdk";
import { describe, expect, it } from "vitest";

import { describeError, endsSession, fieldViolations, isNotFound, SESSION_EXPIRED } from "./errors";

const err = (httpStatus: number, code: string, message = "", details: Array<Record<string, unknown>> = []) =>
  new AgentIdPError({ code, message, httpStatus, details, requestId: "req-1" });

describe("describeError", () => {
  it("says a 403 is a permission problem and names the scope", () => {
    const p = describeError(err(403, "INSUFFICIENT_SCOPE", "this request needs the scope audit:read"), "audit:read");
    expect(p).toMatchObject({ forbidden: true, title: "Permission denied", code: "INSUFFICIENT_SCOPE", httpStatus: 403, requestId: "req-1" });
    expect(p.detail).toContain("needs the audit:read scope");
    expect(p.detail).toContain("this request needs the scope audit:read");
  });
  it("does not blame a scope for a tenancy or escalation denial", () => {
    for (const code of ["POLICY_DENIED", "SCOPE_ESCALATION", "OWNER_NOT_ALLOWED"]) {
      const p = describeError(err(403, code, "agent x holds scopes the caller does not hold: audit:read"), "credentials:write");
      expect(p).toMatchObject({ forbidden: true, title: "Permission denied" });
      expect(p.detail).not.toContain("needs the credentials:write scope");
      expect(p.detail).toContain("holds scopes the caller does not hold");
    }
  });
  it("reads the blamed field from BadRequest", () => {
    const p = describeError(err(400, "FIELD_TOO_LONG", "agent.name is too long", [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "FIELD_TOO_LONG", metadata: { field: "agent.name" } },
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "agent.name", description: "agent.name is too long", reason: "FIELD_TOO_LONG" }] },
    ]));
    expect(p.field).toBe("agent.name");
  });
  it("reads the blamed field from ErrorInfo", () => {
    const p = describeError(err(400, "FIELD_INVALID", "bad", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "FIELD_INVALID", metadata: { field: "agent.name" } }]));
    expect(p.field).toBe("agent.name");
    expect(p.forbidden).toBe(false);
  });
  it.each([
    [429, "RATE_LIMITED", "Too many requests"],
    [0, "UNAVAILABLE", "The gateway did not answer"],
    [503, "SERVICE_UNAVAILABLE", "Service unavailable"],
    [404, "AGENT_NOT_FOUND", "Not found"],
    [409, "ETAG_MISMATCH", "Conflict"],
    [500, "INTERNAL", "Server error"],
  ])("HTTP %i", (status, code, title) => {
    expect(describeError(err(status, code)).title).toBe(title);
  });
  it("handles non-API errors", () => {
    expect(describeError(new Error("boom"))).toMatchObject({ title: "Something went wrong", detail: "boom" });
  });
});

describe("isNotFound", () => {
  it("is any 404: an unknown id and another owner's answer alike", () => {
    expect(isNotFound(err(404, "AGENT_NOT_FOUND"))).toBe(true);
    expect(isNotFound(err(404, "AUDIT_EVENT_NOT_FOUND"))).toBe(true);
    expect(isNotFound(err(403, "POLICY_DENIED"))).toBe(false);
    expect(isNotFound(new Error("x"))).toBe(false);
  });
});

describe("endsSession", () => {
  it("is true for 401s and expired sessions only", () => {
    expect(endsSession(err(401, "UNAUTHENTICATED"))).toBe(true);
    expect(endsSession(err(401, SESSION_EXPIRED))).toBe(true);
    expect(endsSession(err(403, "INSUFFICIENT_SCOPE"))).toBe(false);
    expect(endsSession(new Error("x"))).toBe(false);
  });
});

describe("fieldViolations", () => {
  it("reads every BadRequest field violation", () => {
    expect(fieldViolations(err(400, "FIELD_INVALID", "status", [
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [
        { field: "agent.name", description: "agent.name is required", reason: "FIELD_REQUIRED" },
        { field: "agent.owner" },
        { description: "no field" },
        "junk",
      ] },
    ]))).toEqual([
      { field: "agent.name", description: "agent.name is required", reason: "FIELD_REQUIRED" },
      { field: "agent.owner", description: "status", reason: undefined },
    ]);
  });
  it("falls back on ErrorInfo's field, with the status's message", () => {
    expect(fieldViolations(err(400, "FIELD_INVALID", "bad name", [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "FIELD_INVALID", metadata: { field: "agent.name" } },
    ]))).toEqual([{ field: "agent.name", description: "bad name", reason: "FIELD_INVALID" }]);
  });
  it("is empty for errors without a field", () => {
    expect(fieldViolations(err(403, "POLICY_DENIED"))).toEqual([]);
    expect(fieldViolations(new Error("boom"))).toEqual([]);
  });
});
