// What the live mesh cannot show deterministically, against a local fake
// server: single flight, retry spacing, error shapes, redaction.
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { AgentIdPClient, AgentIdPError, Secret, type TokenStore, VERSION, memoryTokenStore } from "../src/index.js";
import { errorFromResponse } from "../src/errors.js";
import { parseCredential } from "../src/models.js";
import { TokenManager } from "../src/token.js";
import { FakeServer, agentJson } from "./fake.js";

let fake: FakeServer;
beforeEach(async () => {
  fake = await new FakeServer().start();
});
afterEach(async () => {
  await fake.close();
});

const client = (extra: Partial<ConstructorParameters<typeof AgentIdPClient>[0]> = {}) =>
  new AgentIdPClient({ baseUrl: fake.url, clientId: "agent-1", clientSecret: "agentidp_sk_test", ...extra });

describe("TokenManager", () => {
  it("makes one token request for 100 concurrent calls with an expired token", async () => {
    fake.tokenDelayMs = 50;
    const seen: string[] = [];
    fake.routes.set("GET /v1/agents/a1", (req) => {
      seen.push(req.headers.authorization ?? "");
      return { body: agentJson("a1") };
    });
    // The cache holds a token that is due for replacement.
    const store: TokenStore = memoryTokenStore();
    store.save({ accessToken: "tok-expired", renewAt: Date.now() - 1 });
    const c = client({ tokenStore: store });
    const agents = await Promise.all(Array.from({ length: 100 }, () => c.agents.get("a1")));
    expect(agents).toHaveLength(100);
    expect(fake.tokenRequests).toBe(1);
    expect(new Set(seen)).toEqual(new Set(["Bearer tok-1"]));
  });

  it("caches the token, and clearTokenCache drops it", async () => {
    fake.routes.set("GET /v1/agents/a1", () => ({ body: agentJson("a1") }));
    const c = client();
    for (let i = 0; i < 3; i++) await c.agents.get("a1");
    expect(fake.tokenRequests).toBe(1);
    c.clearTokenCache();
    await c.agents.get("a1");
    expect(fake.tokenRequests).toBe(2);
  });

  it("refreshes 60 s before expiry, or at half the lifetime of a short token", async () => {
    let now = 1_000_000;
    const tm = (expiresIn: number) => {
      fake.expiresIn = expiresIn;
      return new TokenManager(() => client().tokens.issue(), { now: () => now });
    };
    const long = tm(900);
    const t1 = await long.token();
    now += 839_000;
    expect((await long.token()).equals(t1)).toBe(true);
    now += 2_000;
    expect((await long.token()).equals(t1)).toBe(false);
    const short = tm(30);
    const s1 = await short.token();
    now += 14_000;
    expect((await short.token()).equals(s1)).toBe(true);
    now += 2_000;
    expect((await short.token()).equals(s1)).toBe(false);
  });

  it("retries once with a new token after 401 invalid_token", async () => {
    fake.routes.set("GET /v1/agents/a1", (req) =>
      req.headers.authorization === "Bearer tok-1"
        ? { status: 401, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
            body: '{"code":16,"message":"revoked","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_TOKEN"}]}' }
        : { body: agentJson("a1") });
    expect((await client().agents.get("a1")).agentId).toBe("a1");
    expect(fake.tokenRequests).toBe(2);
  });
});

describe("errors", () => {
  it.each([
    [404, '{"code":5,"message":"agent x not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"AGENT_NOT_FOUND"}]}', {}, "AGENT_NOT_FOUND", "agent x not found", undefined],
    [503, '{"code":14,"message":"down"}', {}, "UNAVAILABLE", "down", undefined],
    [401, '{"error":"invalid_client","error_description":"client authentication failed"}', {}, "invalid_client", "client authentication failed", undefined],
    [429, '{"error":"temporarily_unavailable"}', { "retry-after": "2" }, "temporarily_unavailable", "Too Many Requests", 2],
    [502, "<html>bad gateway</html>", {}, "INTERNAL", "Bad Gateway", undefined],
  ])("HTTP %i %s", (status, body, headers, code, message, retryAfter) => {
    const e = errorFromResponse(status, new Headers(headers), body);
    expect([e.code, e.message, e.httpStatus, e.retryAfter]).toEqual([code, message, status, retryAfter]);
  });

  it("turns a failed connection into UNAVAILABLE with a cause", async () => {
    const c = new AgentIdPClient({ baseUrl: "http://127.0.0.1:1", clientId: "a", clientSecret: "s" });
    const e = await c.agents.get("a1").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentIdPError);
    expect((e as AgentIdPError).code).toBe("UNAVAILABLE");
    expect((e as AgentIdPError).httpStatus).toBe(0);
    expect((e as AgentIdPError).cause).toBeDefined();
  });

  it("times out an attempt", async () => {
    fake.routes.set("GET /v1/agents/slow", () => ({ body: agentJson("slow") }));
    fake.tokenDelayMs = 300;
    const e = await client({ timeoutMs: 50 }).agents.get("slow").catch((x: unknown) => x);
    expect((e as AgentIdPError).code).toBe("DEADLINE_EXCEEDED");
  });
});

describe("retries", () => {
  it("waits for Retry-After, and a retried register keeps its requestId", async () => {
    const urls: string[] = [];
    fake.routes.set("POST /v1/agents", (req) => {
      urls.push(req.url ?? "");
      return urls.length === 1
        ? { status: 429, headers: { "Retry-After": "1" }, body: '{"code":8,"message":"slow down","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMITED"}]}' }
        : { status: 201, body: agentJson("a1") };
    });
    const start = Date.now();
    await client().agents.register({ name: "a" });
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000);
    expect(urls).toHaveLength(2);
    expect(urls[0]).toBe(urls[1]);
    expect(urls[0]).toContain("requestId=");
  });

  it("never retries a credential create", async () => {
    let calls = 0;
    fake.routes.set("POST /v1/agents/a1/credentials", () => {
      calls++;
      return { status: 503, body: '{"code":14,"message":"unavailable"}' };
    });
    const e = await client().credentials.generate("a1").catch((x: unknown) => x);
    expect((e as AgentIdPError).httpStatus).toBe(503);
    expect(calls).toBe(1);
  });

  it("gives up after maxRetries", async () => {
    let calls = 0;
    fake.routes.set("GET /v1/agents/a1", () => {
      calls++;
      return { status: 503, headers: { "Retry-After": "0" } };
    });
    const e = await client({ maxRetries: 2 }).agents.get("a1").catch((x: unknown) => x);
    expect((e as AgentIdPError).code).toBe("UNAVAILABLE");
    expect(calls).toBe(3);
  });
});

describe("requests", () => {
  it("escapes ids, sends only the changed fields, names the SDK", async () => {
    fake.routes.set("PATCH /v1/agents/a%201", () => ({ body: agentJson("a 1") }));
    await client({ userAgent: "my-app/2" }).agents.update("a 1", { description: "", scopes: [] }, { etag: "7" });
    const req = fake.requests.at(-1)!;
    expect(req.url).toBe("/v1/agents/a%201?updateMask=description%2Cscopes");
    expect(JSON.parse(req.body)).toEqual({ description: "", scopes: [], etag: "7" });
    expect(req.headers["user-agent"]).toBe(`my-app/2 agentidp-sdk-typescript/${VERSION}`);
    expect(fake.requests.find((r) => r.url === "/oauth2/token")!.headers.authorization).toMatch(/^Basic /);
    await expect(client().agents.get("")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("verifies the audit chain and pages through its checkpoints", async () => {
    fake.routes.set("GET /v1/audit/verify", () => ({
      body: JSON.stringify({
        ok: false, fromSequence: "1", toSequence: "9", eventsChecked: "9", checkpointsChecked: "2",
        checkpointedThrough: "8", firstBreak: { sequence: "9", eventId: "e9", kind: "hash_mismatch" },
      }),
    }));
    const cp = { sequence: "4", hash: "h4", keyId: "k", algorithm: "ed25519", signature: "c2ln", signedAt: "2026-01-02T03:04:05Z" };
    fake.routes.set("GET /v1/audit/checkpoints", (req) => ({
      body: (req.url ?? "").includes("pageToken=p2")
        ? JSON.stringify({ checkpoints: [{ ...cp, sequence: "8", hash: "h8" }] })
        : JSON.stringify({ checkpoints: [cp], nextPageToken: "p2" }),
    }));
    const c = client();
    const v = await c.audit.verify({ fromSequence: 1, toSequence: 9 });
    expect(fake.requests.at(-1)!.url).toBe("/v1/audit/verify?fromSequence=1&toSequence=9");
    expect(v).toMatchObject({ ok: false, eventsChecked: 9, checkpointsChecked: 2, checkpointedThrough: 8 });
    expect(v.firstBreak).toMatchObject({ sequence: 9, kind: "hash_mismatch", eventId: "e9" });
    await c.audit.verify();
    expect(fake.requests.at(-1)!.url).toBe("/v1/audit/verify");
    const page = await c.audit.checkpointsPage({ fromSequence: 3, pageSize: 1 });
    expect(fake.requests.at(-1)!.url).toBe("/v1/audit/checkpoints?fromSequence=3&pageSize=1");
    expect(page.nextPageToken).toBe("p2");
    expect(page.items[0]).toMatchObject({ sequence: 4, algorithm: "ed25519", signedAt: new Date("2026-01-02T03:04:05Z") });
    const seqs: number[] = [];
    for await (const x of c.audit.checkpoints({ fromSequence: 3 })) seqs.push(x.sequence);
    expect(seqs).toEqual([4, 8]);
    const before = fake.requests.length;
    await expect(c.audit.verify({ fromSequence: -1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(c.audit.verify({ fromSequence: 5, toSequence: 2 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(c.audit.checkpointsPage({ fromSequence: -1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(fake.requests.length).toBe(before);
  });

  it("keeps VERSION equal to package.json", async () => {
    const { readFileSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});

describe("secrets", () => {
  it("are never printed", () => {
    const s = new Secret("agentidp_sk_abc");
    const issued = { clientId: "a", clientSecret: s };
    for (const text of [String(s), `${s}`, JSON.stringify(issued), inspect(issued, { depth: 5 }), inspect(client())]) {
      expect(text).not.toContain("abc");
    }
    expect(s.reveal()).toBe("agentidp_sk_abc");
  });

  it("parse int64 strings and timestamps", () => {
    const c = parseCredential({ credentialId: "c", secretVersion: "2", expiresAt: "2026-01-02T03:04:05.123456789Z" });
    expect(c.secretVersion).toBe(2);
    expect(c.expiresAt?.toISOString()).toBe("2026-01-02T03:04:05.123Z");
  });
});
