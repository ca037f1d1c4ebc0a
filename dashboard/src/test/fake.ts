/** Test helpers: unsigned JWTs and a fake gateway behind `fetch`. */

export function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "ES256", typ: "at+jwt" })}.${b64(claims)}.sig`;
}

export interface Recorded {
  method: string;
  path: string;
  url: string;
  headers: Headers;
  body: string;
}

/** A fetch that answers from `routes` ("POST /oauth2/token" → handler) and records every call. */
export function fakeFetch(routes: Record<string, (r: Recorded) => Response | Promise<Response>>) {
  const calls: Recorded[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const r: Recorded = { method: init?.method ?? "GET", path: url.pathname, url: url.href, headers: new Headers(init?.headers), body: typeof init?.body === "string" ? init.body : "" };
    calls.push(r);
    const h = routes[`${r.method} ${r.path}`];
    if (!h) return json(404, { code: 5, message: "no route", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ROUTE_NOT_FOUND" }] });
    return h(r);
  };
  return { fetch, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** A token response for `scopes`, valid for `expiresIn` seconds, of an agent of `owner` (null: no owner claim). */
export function tokenResponse(scopes: string[], expiresIn = 900, sub = "agent-1", owner: string | null = "team-a"): Response {
  const token = jwt({ sub, scope: scopes.join(" "), exp: Math.floor(Date.now() / 1000) + expiresIn, ...(owner ? { owner } : {}) });
  return json(200, { access_token: token, token_type: "Bearer", expires_in: expiresIn, scope: scopes.join(" ") });
}
