import { createContext, useContext, useSyncExternalStore, type ReactNode } from "react";

import { permission, type Action, type Permission } from "@/lib/scopes";
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
