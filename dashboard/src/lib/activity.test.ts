import { describe, expect, it } from "vitest";

import { RANGES, bucketize, windowStart } from "./activity";

const hour = RANGES.find((r) => r.key === "1h")!;

describe("bucketize", () => {
  const now = new Date("2026-01-01T12:07:30Z");
  it("makes 12 five-minute buckets ending with the one holding now", () => {
    const b = bucketize([], hour, now);
    expect(b).toHaveLength(12);
    expect(b[0]!.start.toISOString()).toBe("2026-01-01T11:10:00.000Z");
    expect(b[11]!.start.toISOString()).toBe("2026-01-01T12:05:00.000Z");
    expect(windowStart(hour, now).toISOString()).toBe("2026-01-01T11:10:00.000Z");
  });
  it("counts issued and denied per bucket and ignores the rest", () => {
    const at = (iso: string, action: string) => ({ action, occurredAt: new Date(iso) });
    const b = bucketize([
      at("2026-01-01T12:06:00Z", "token.issued"),
      at("2026-01-01T12:05:00Z", "token.issued"),
      at("2026-01-01T12:04:59Z", "token.denied"),
      at("2026-01-01T11:10:00Z", "authz.denied"),
      at("2026-01-01T11:09:59Z", "token.issued"), // before the window
      at("2026-01-01T12:10:00Z", "token.issued"), // after it
      at("2026-01-01T12:06:00Z", "agent.registered"),
      { action: "token.issued" }, // no time
    ], hour, now);
    expect(b[11]).toMatchObject({ issued: 2, denied: 0 });
    expect(b[10]).toMatchObject({ issued: 0, denied: 1 });
    expect(b[0]).toMatchObject({ issued: 0, denied: 1 });
    expect(b.reduce((n, x) => n + x.issued + x.denied, 0)).toBe(4);
  });
  it("has 24 hourly and 7 daily buckets", () => {
    expect(bucketize([], RANGES[1]!, new Date())).toHaveLength(24);
    expect(bucketize([], RANGES[2]!, new Date())).toHaveLength(7);
  });
});
