import { createContext, useContext, useSyncExternalStore, type ReactNode } from "react";

import type { Agent } from "@sentryagent/idp-sdk";

import { agentPermission, isPlatformAdmin, permission, type Action, type AgentAction, type Permission } from "@/lib/scopes";
import type { Session, SessionManager } from "@/lib/session";

const ManagerContext = createContext<SessionManager | undefined>(undefined);
const BaseUrlContext = createContext<string>("");

export function SessionProvider({ manager, baseUrl, children }: { manager: SessionManager; baseUrl: string; children: ReactNode }) {
  return (
    <ManagerContext.Provider value={manager}>
      <BaseUrlContext.Provider value={baseUrl}>{children}</BaseUrlContext.Provider>
    </ManagerContext.Provider>
  );
}

export function useSessionManager(): SessionManager {
  const m = useContext(ManagerContext);
  if (!m) throw new Error("useSessionManager outside SessionProvider");
  return m;
}

/** The gateway's origin (the dashboard's own origin in production). */
export function useBaseUrl(): string {
  return useContext(BaseUrlContext);
}

/** The current session, or undefined when signed out. */
export function useSession(): Session | undefined {
  const m = useSessionManager();
  return useSyncExternalStore(m.subscribe, m.getSnapshot);
}

/** The current session; only for components under the signed-in routes. */
export function useRequiredSession(): Session {
  const s = useSession();
  if (!s) throw new Error("no session");
  return s;
}

/** Whether the signed-in agent's token allows `action`. */
export function usePermission(action: Action): Permission {
  const s = useSession();
  return permission(s?.scopes ?? new Set(), action);
}

/** Whether the signed-in agent may take `action` on `agent` (its scopes, and the escalation rule). */
export function useAgentPermission(agent: Pick<Agent, "agentId" | "name" | "scopes">, action: AgentAction): Permission {
  const s = useSession();
  return agentPermission({ clientId: s?.clientId ?? "", scopes: s?.scopes ?? new Set() }, agent, action);
}

/** Whether the signed-in agent is a platform admin (sees and manages every owner). */
export function usePlatformAdmin(): boolean {
  return isPlatformAdmin(useSession()?.scopes ?? new Set());
}
