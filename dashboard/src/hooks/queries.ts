/**
 * Every API read and write of the dashboard, as TanStack Query hooks over
 * the TypeScript SDK. Writes invalidate what they change, and the audit log
 * (every write is audited).
 */
import type { Agent, AgentChanges, AgentFilter, AgentInput, AuditEvent, AuditFilter, IssuedCredential } from "@sentryagent/idp-sdk";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { DENIED_ACTIONS, ISSUED_ACTIONS, windowStart, type Range } from "@/lib/activity";
import { gatewayHealth, verifyAuditChain } from "@/lib/api";

import { useBaseUrl, useRequiredSession } from "./session";

export const keys = {
  agents: ["agents"] as const,
  agentList: (f: AgentFilter, page: string) => ["agents", "list", f, page] as const,
  agent: (id: string) => ["agents", "one", id] as const,
  credentials: (agentId: string) => ["credentials", agentId] as const,
  audit: ["audit"] as const,
  auditList: (f: AuditFilter, page: string) => ["audit", "list", f, page] as const,
  auditEvent: (id: string) => ["audit", "event", id] as const,
  auditVerify: ["audit", "verify"] as const,
  activity: (range: string) => ["audit", "activity", range] as const,
  health: ["health"] as const,
};

export function useAgentsPage(filter: AgentFilter, pageToken: string, enabled = true) {
  const { client } = useRequiredSession();
  return useQuery({
    queryKey: keys.agentList(filter, pageToken),
    enabled,
    queryFn: ({ signal }) => client.agents.listPage(filter, pageToken || undefined, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useAgent(agentId: string) {
  const { client } = useRequiredSession();
  return useQuery({ queryKey: keys.agent(agentId), queryFn: ({ signal }) => client.agents.get(agentId, { signal }) });
}

/**
 * The signed-in agent's owner: its token's owner claim or, for a token
 * without one, its own agent record (an agent may always read itself).
 * Undefined while that loads or if it cannot be read.
 */
export function useCallerOwner(): string | undefined {
  const { client, clientId, owner } = useRequiredSession();
  const q = useQuery({
    queryKey: keys.agent(clientId),
    enabled: owner === undefined,
    queryFn: ({ signal }) => client.agents.get(clientId, { signal }),
    staleTime: 60_000,
  });
  return owner ?? (q.data?.owner || undefined);
}

export function useCredentials(agentId: string, enabled = true) {
  const { client } = useRequiredSession();
  return useQuery({
    queryKey: keys.credentials(agentId),
    enabled,
    queryFn: async ({ signal }) => {
      const all = [];
      for await (const c of client.credentials.list(agentId, { pageSize: 100, signal })) all.push(c);
      return all;
    },
  });
}

export function useAuditPage(filter: AuditFilter, pageToken: string, enabled = true) {
  const { client } = useRequiredSession();
  return useQuery({
    queryKey: keys.auditList(filter, pageToken),
    enabled,
    queryFn: ({ signal }) => client.audit.queryPage(filter, pageToken || undefined, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useAuditEvent(eventId: string | undefined) {
  const { client } = useRequiredSession();
  return useQuery({
    queryKey: keys.auditEvent(eventId ?? ""),
    enabled: !!eventId,
    queryFn: ({ signal }) => client.audit.get(eventId!, { signal }),
    staleTime: Infinity, // events never change
  });
}

export function useAuditVerify(enabled = true) {
  const session = useRequiredSession();
  const baseUrl = useBaseUrl();
  return useQuery({
    queryKey: keys.auditVerify,
    enabled,
    queryFn: ({ signal }) => verifyAuditChain(session, baseUrl, signal),
    staleTime: 60_000,
  });
}

/** At most this many events per action are read for the chart. */
export const ACTIVITY_CAP = 5000;

export interface Activity {
  events: Array<Pick<AuditEvent, "action" | "occurredAt">>;
  /** Some action had more events than ACTIVITY_CAP in the window. */
  capped: boolean;
  now: Date;
}

export function useTokenActivity(range: Range, enabled = true) {
  const { client } = useRequiredSession();
  return useQuery({
    queryKey: keys.activity(range.key),
    enabled,
    refetchInterval: 30_000,
    queryFn: async ({ signal }): Promise<Activity> => {
      const now = new Date();
      const startTime = windowStart(range, now);
      let capped = false;
      const lists = await Promise.all([...ISSUED_ACTIONS, ...DENIED_ACTIONS].map(async (action) => {
        const out: Array<Pick<AuditEvent, "action" | "occurredAt">> = [];
        for await (const e of client.audit.query({ action, startTime, pageSize: 1000 }, { signal })) {
          out.push({ action: e.action, ...(e.occurredAt ? { occurredAt: e.occurredAt } : {}) });
          if (out.length >= ACTIVITY_CAP) {
            capped = true;
            break;
          }
        }
        return out;
      }));
      return { events: lists.flat(), capped, now };
    },
  });
}

export function useGatewayHealth(intervalMs = 5000) {
  const baseUrl = useBaseUrl();
  return useQuery({
    queryKey: keys.health,
    queryFn: ({ signal }) => gatewayHealth(baseUrl, signal),
    refetchInterval: intervalMs,
    retry: false,
  });
}

// ── writes ──────────────────────────────────────────────────────────────────

export function useRegisterAgent() {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: AgentInput) => client.agents.register(input),
    onSuccess: (a) => {
      qc.setQueryData(keys.agent(a.agentId), a);
      void qc.invalidateQueries({ queryKey: keys.agents });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}

/** Changes an agent's fields, if it is still at `etag` (else ETAG_MISMATCH, 409). */
export function useUpdateAgent(agentId: string) {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { changes: AgentChanges; etag: string }) => client.agents.update(agentId, v.changes, { etag: v.etag }),
    onSuccess: (a) => {
      qc.setQueryData(keys.agent(agentId), a);
      void qc.invalidateQueries({ queryKey: keys.agents });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}

export type Lifecycle = "suspend" | "reactivate" | "decommission";

export function useAgentLifecycle(agentId: string) {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (op: Lifecycle): Promise<Agent> => client.agents[op](agentId),
    onSuccess: (a) => {
      qc.setQueryData(keys.agent(agentId), a);
      void qc.invalidateQueries({ queryKey: keys.agents });
      void qc.invalidateQueries({ queryKey: keys.credentials(agentId) });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}

export function useGenerateCredential(agentId: string) {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (ttlSeconds: number | undefined): Promise<IssuedCredential> => client.credentials.generate(agentId, { ttlSeconds }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.credentials(agentId) });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}

export function useRotateCredential(agentId: string) {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { credentialId: string; gracePeriodSeconds: number }) =>
      client.credentials.rotate(agentId, v.credentialId, { gracePeriodSeconds: v.gracePeriodSeconds }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.credentials(agentId) });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}

export function useRevokeCredential(agentId: string) {
  const { client } = useRequiredSession();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (credentialId: string) => client.credentials.revoke(agentId, credentialId),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.credentials(agentId) });
      void qc.invalidateQueries({ queryKey: keys.audit });
    },
  });
}
