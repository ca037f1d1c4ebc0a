import { describe, expect, it } from "vitest";

import { duration, fromLocalInput, relative, shortId, toLocalInput } from "./format";

describe("format", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  it.each([
    [0, "just now"], [-4_000, "just now"], [-30_000, "30 s ago"], [-180_000, "3 min ago"], [7_200_000, "in 2 h"], [-3 * 86_400_000, "3 d ago"],
  ])("relative(%i ms)", (offset, want) => {
    expect(relative(new Date(now.getTime() + offset), now)).toBe(want);
  });
  it("durations", () => {
    expect([500, 45_000, 200_000, 7_300_000, 90_000_000].map(duration)).toEqual(["1 s", "45 s", "3 min", "2 h", "1 d"]);
  });
  it("round-trips datetime-local values", () => {
    const d = new Date(2026, 4, 6, 7, 8);
    expect(toLocalInput(d)).toBe("2026-05-06T07:08");
    expect(fromLocalInput("2026-05-06T07:08")?.getTime()).toBe(d.getTime());
    expect(fromLocalInput("")).toBeUndefined();
    expect(fromLocalInput("nonsense")).toBeUndefined();
  });
  it("shortens ids", () => {
    expect(shortId("01a21dca-dabf-74ed-83a3-b5c4a9775054")).toBe("01a21dca…");
    expect(shortId("system")).toBe("system");
  });
});
