/** Renders a page signed in as a fake agent, against a fake gateway. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { vi } from "vitest";

import { TooltipProvider } from "@/components/ui/tooltip";
import { SessionProvider } from "@/hooks/session";
import { SessionManager } from "@/lib/session";

import { fakeFetch, tokenResponse, type Recorded } from "./fake";

export const BASE = "http://gw.test";
export const SELF = "01900000-0000-7000-8000-000000000001";

export interface PageOptions {
  /** The URL the page opens at, e.g. /agents?owner=x. */
  path: string;
  /** The route pattern the page is mounted at, e.g. /agents/:agentId. */
  route: string;
  element: ReactElement;
  scopes: string[];
  /** The token's owner claim; undefined: a token without one. */
  owner: string | undefined;
  /** The gateway's answers besides the token endpoint ("GET /v1/agents" → handler). */
  api: Record<string, (r: Recorded) => Response | Promise<Response>>;
}

/**
 * Signs in as agent SELF with `scopes` and renders `element`; every API
 * call, the SDK's and lib/api.ts's (global fetch), reaches `api`.
 */
export async function renderPage(o: PageOptions) {
  const gw = fakeFetch({ "POST /oauth2/token": () => tokenResponse(o.scopes, 900, SELF, o.owner ?? null), ...o.api });
  vi.stubGlobal("fetch", gw.fetch);
  const manager = new SessionManager({ baseUrl: BASE, fetch: gw.fetch });
  await manager.signIn(SELF, "s3cret");
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <SessionProvider manager={manager} baseUrl={BASE}>
      <QueryClientProvider client={queryClient}>
        <TooltipProvider delayDuration={0}>
          <MemoryRouter initialEntries={[o.path]}>
            <Routes>
              <Route path={o.route} element={o.element} />
              <Route path="*" element={<p>elsewhere</p>} />
            </Routes>
          </MemoryRouter>
        </TooltipProvider>
      </QueryClientProvider>
    </SessionProvider>,
  );
  return gw;
}

/** The query string of the last call to `path`. */
export function lastQuery(calls: Recorded[], method: string, path: string): URLSearchParams | undefined {
  const c = calls.filter((x) => x.method === method && x.path === path).at(-1);
  return c ? new URL(c.url).searchParams : undefined;
}
