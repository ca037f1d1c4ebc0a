import { QueryCache, QueryClient, QueryClientProvider, MutationCache } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { createBrowserRouter, Navigate, Outlet, RouterProvider, useLocation } from "react-router";
import { Toaster, toast } from "sonner";

import { AppShell } from "@/components/layout";
import { TooltipProvider } from "@/components/ui/tooltip";
import { SessionProvider, useSession } from "@/hooks/session";
import { ThemeProvider, useTheme } from "@/hooks/theme";
import { describeError, endsSession } from "@/lib/errors";
import type { SessionManager } from "@/lib/session";
import { LoginPage } from "@/pages/login";
import { NotFoundPage } from "@/pages/not-found";

/** Signed-in pages render only with a session; otherwise the sign-in page, coming back here after. */
function RequireSession() {
  const session = useSession();
  const location = useLocation();
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Outlet />;
}

// Pages load on first visit (the sign-in page is in the entry chunk).
const router = createBrowserRouter([
  { path: "/login", element: <LoginPage /> },
  {
    element: <AppShell />,
    HydrateFallback: () => null,
    children: [
      { path: "/health", lazy: async () => ({ Component: (await import("@/pages/health")).HealthPage }) },
      {
        element: <RequireSession />,
        children: [
          { path: "/", lazy: async () => ({ Component: (await import("@/pages/overview")).OverviewPage }) },
          { path: "/agents", lazy: async () => ({ Component: (await import("@/pages/agents")).AgentsPage }) },
          { path: "/agents/new", lazy: async () => ({ Component: (await import("@/pages/agent-new")).AgentNewPage }) },
          { path: "/agents/:agentId/edit", lazy: async () => ({ Component: (await import("@/pages/agent-edit")).AgentEditPage }) },
          { path: "/agents/:agentId", lazy: async () => ({ Component: (await import("@/pages/agent-detail")).AgentDetailPage }) },
          { path: "/audit", lazy: async () => ({ Component: (await import("@/pages/audit")).AuditPage }) },
          { path: "/audit/:eventId", lazy: async () => ({ Component: (await import("@/pages/audit")).AuditPage }) },
        ],
      },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);

/**
 * One QueryClient per app. A failure that ends the session (an expired
 * token after a reload, a suspended agent) signs out; other read failures
 * show where the data would be, and write failures as toasts (per call).
 */
export function makeQueryClient(manager: SessionManager): QueryClient {
  const onError = (e: unknown) => {
    if (endsSession(e) && manager.current) {
      void manager.signOut(describeError(e).detail);
    }
  };
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (e, query) => {
        onError(e);
        // Background refreshes that fail after data was shown: say so once.
        if (!endsSession(e) && query.state.data !== undefined) {
          const p = describeError(e);
          toast.error(p.title, { description: p.detail, id: `refresh-${p.code}` });
        }
      },
    }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        // The SDK retries 429/503 itself; a 4xx will not get better.
        retry: (n, e) => n < 1 && !(describeError(e).httpStatus >= 400 && describeError(e).httpStatus < 500),
        staleTime: 10_000,
        refetchOnWindowFocus: true,
      },
    },
  });
}

function ThemedToaster() {
  const { theme } = useTheme();
  return <Toaster theme={theme} closeButton position="bottom-right" />;
}

export function App({ manager, baseUrl }: { manager: SessionManager; baseUrl: string }) {
  const [queryClient] = useState(() => makeQueryClient(manager));
  // Nothing one identity loaded may show to the next: drop the cache at sign-out.
  useEffect(() => manager.subscribe(() => {
    if (!manager.current) queryClient.clear();
  }), [manager, queryClient]);
  return (
    <ThemeProvider>
      <SessionProvider manager={manager} baseUrl={baseUrl}>
        <QueryClientProvider client={queryClient}>
          <TooltipProvider delayDuration={200}>
            <RouterProvider router={router} />
            <ThemedToaster />
          </TooltipProvider>
        </QueryClientProvider>
      </SessionProvider>
    </ThemeProvider>
  );
}
