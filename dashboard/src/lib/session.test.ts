import { AgentIdPError } from "@sentryagent/idp-sdk";
import { describe, expect, it } from "vitest";

import { fakeFetch, json, tokenResponse } from "@/test/fake";

import { SESSION_EXPIRED } from "./errors";
import { CLIENT_ID_KEY, SessionManager, TOKEN_KEY } from "./session";

const BASE = "http://gw.test";

function gateway(scopes = ["agents:read", "agents:write"]) {
  return fakeFetch({
    "POST /oauth2/token": (r) =>
      r.headers.get("authorization") === `Basic ${btoa("agent-1:good-secret")}`
        ? tokenResponse(scopes)
        : json(401, { error: "invalid_client", error_description: "client authentication failed" }),
    "POST /oauth2/revoke": () => new Response(null, { status: 200 }),
    "GET /v1/agents": () => json(200, { agents: [], nextPageToken: "" }),
  });
}

describe("SessionManager", () => {
  it("signs in with the secret, keeps only the token and client id in sessionStorage", async () => {
    const gw = gateway();
    const m = new SessionManager({ baseUrl: BASE, fetch: gw.fetch });
    let changes = 0;
    m.subscribe(() => changes++);
    const s = await m.signIn("agent-1", "good-secret");
    expect(s.clientId).toBe("agent-1");
    expect([...s.scopes]).toEqual(["agents:read", "agents:write"]);
    expect(s.owner).toBe("team-a"); // the token's owner claim
    expect(s.canRenew).toBe(true);
    expect(s.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(changes).toBeGreaterThan(0);
    expect(sessionStorage.getItem(CLIENT_ID_KEY)).toBe("agent-1");
    expect(sessionStorage.getItem(TOKEN_KEY)).toContain("accessToken");
    expect(JSON.stringify(sessionStorage) + JSON.stringify(localStorage)).not.toContain("good-secret");
    await s.client.agents.listPage();
    expect(gw.calls.at(-1)?.headers.get("authorization")).toMatch(/^Bearer ey/);
  });

  it("a wrong secret is an error and leaves nothing behind", async () => {
    const m = new SessionManager({ baseUrl: BASE, fetch: gateway().fetch });
    await expect(m.signIn("agent-1", "bad")).rejects.toMatchObject({ code: "invalid_client", httpStatus: 401 });
    expect(m.current).toBeUndefined();
    expect(sessionStorage.length).toBe(0);
  });

  it("sign-out revokes the token and clears storage", async () => {
    const gw = gateway();
    const m = new SessionManager({ baseUrl: BASE, fetch: gw.fetch });
    await m.signIn("agent-1", "good-secret");
    await m.signOut("bye");
    expect(gw.calls.map((c) => `${c.method} ${c.path}`)).toContain("POST /oauth2/revoke");
    expect(m.current).toBeUndefined();
    expect(sessionStorage.length).toBe(0);
    expect(m.takeNotice()).toBe("bye");
    expect(m.takeNotice()).toBeUndefined();
  });

  it("a reload restores the session, which uses its token but cannot renew it", async () => {
    const gw = gateway(["agents:read"]);
    await new SessionManager({ baseUrl: BASE, fetch: gw.fetch }).signIn("agent-1", "good-secret");
    const m = new SessionManager({ baseUrl: BASE, fetch: gw.fetch });
    const s = m.restore()!;
    expect(s).toMatchObject({ clientId: "agent-1", canRenew: false });
    expect([...s.scopes]).toEqual(["agents:read"]);
    await s.client.agents.listPage();
    // Once the token is due for renewal, the session ends without sending a made-up secret.
    const stored = JSON.parse(sessionStorage.getItem(TOKEN_KEY)!) as { accessToken: string };
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ ...stored, renewAt: Date.now() - 1 }));
    const before = gw.calls.length;
    const e: unknown = await s.client.agents.listPage().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentIdPError);
    expect((e as AgentIdPError).code).toBe(SESSION_EXPIRED);
    expect(gw.calls.slice(before).some((c) => c.path.startsWith("/oauth2/"))).toBe(false);
  });

  it("restores nothing without a usable token", () => {
    expect(new SessionManager({ baseUrl: BASE }).restore()).toBeUndefined();
    sessionStorage.setItem(CLIENT_ID_KEY, "agent-1");
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ accessToken: "x", renewAt: Date.now() - 1 }));
    expect(new SessionManager({ baseUrl: BASE }).restore()).toBeUndefined();
    expect(sessionStorage.length).toBe(0);
  });
});
