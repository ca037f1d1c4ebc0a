import { describe, expect, it } from "vitest";

import { inferDependencies, parseReadiness } from "./health";

const report = (statuses: Record<string, string>) =>
  parseReadiness({ status: "x", services: Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, { status: v, endpoints: { "127.0.0.1:1": v } }])) });

describe("inferDependencies", () => {
  it("a store is reachable when any service that checks it serves", () => {
    const d = inferDependencies(report({ registry: "NOT_SERVING", credentials: "NOT_SERVING", audit: "SERVING", token: "SERVING" }));
    expect(Object.fromEntries(d.map((x) => [x.key, x.state]))).toEqual({ postgres: "reachable", redis: "reachable", vault: "reachable" });
    expect(d.find((x) => x.key === "postgres")?.servingVia).toEqual(["audit"]);
  });
  it("unreachable when every such service is down; unknown when none is in the report", () => {
    const d = inferDependencies(report({ credentials: "NOT_SERVING", token: "UNREACHABLE" }));
    expect(Object.fromEntries(d.map((x) => [x.key, x.state]))).toEqual({ postgres: "unreachable", redis: "unreachable", vault: "unreachable" });
    expect(inferDependencies(undefined).every((x) => x.state === "unknown")).toBe(true);
  });
});

describe("parseReadiness", () => {
  it("keeps what it understands", () => {
    expect(parseReadiness({ status: "ready", services: { token: { status: "SERVING", endpoints: { a: "SERVING" } }, odd: 3 } })).toEqual({
      status: "ready", services: { token: { status: "SERVING", endpoints: { a: "SERVING" } }, odd: { status: "UNKNOWN", endpoints: {} } },
    });
    expect(parseReadiness("nope")).toBeUndefined();
  });
});
