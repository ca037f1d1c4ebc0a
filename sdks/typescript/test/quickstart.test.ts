// The README's quickstart is examples/quickstart.ts verbatim, and it runs.
import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";

import { NO_MESH, liveMesh } from "./mesh.js";

const FILE = "examples/quickstart.ts";
const read = (p: string): string => readFileSync(new URL(`../${p}`, import.meta.url), "utf8");

function readmeBlock(file: string): string {
  const marker = `<!-- quickstart: ${file} -->\n`;
  const readme = read("README.md");
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker.trim()} marker`);
  const after = readme.slice(at + marker.length);
  const block = after.slice(after.indexOf("\n") + 1); // skip the opening fence
  const end = block.indexOf("```\n");
  if (end < 0) throw new Error("the quickstart code block is not closed");
  return block.slice(0, end);
}

describe("quickstart", () => {
  it("is in the README verbatim", () => {
    expect(readmeBlock(FILE), `README.md's quickstart differs from ${FILE}: copy the file into the README`).toBe(read(FILE));
  });

  it.skipIf(!liveMesh())(`runs against the live mesh (${liveMesh() ? "" : NO_MESH})`, async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    try {
      await import("../examples/quickstart.js");
    } finally {
      spy.mockRestore();
    }
    const out = lines.join("\n");
    for (const want of ["secret [REDACTED]", "I am invoice-bot and I am active", "AGENT_NOT_FOUND 404"]) {
      expect(out).toContain(want);
    }
  });
});
