/**
 * The gateway's readiness report (GET /readyz through Envoy) and what it
 * says about the data stores. /readyz reports each service (SERVING when any
 * endpoint is) and each endpoint; a service is SERVING only while its own
 * dependency checks pass, so a store's state is inferred from the services
 * that depend on it.
 */

export interface ServiceReport {
  status: string;
  endpoints: Record<string, string>;
}

export interface ReadinessReport {
  /** "ready" or "not_ready". */
  status: string;
  services: Record<string, ServiceReport>;
}

/** Which services check which store before they report SERVING (their health checks). */
export const DEPENDENCIES: Record<string, { label: string; services: string[] }> = {
  postgres: { label: "PostgreSQL", services: ["registry", "credentials", "audit"] },
  redis: { label: "Redis", services: ["token", "audit", "authz"] },
  vault: { label: "Vault", services: ["credentials", "token"] },
};

export type DependencyState = "reachable" | "unreachable" | "unknown";

export interface DependencyHealth {
  key: string;
  label: string;
  state: DependencyState;
  /** The services of the report that check this store. */
  via: string[];
  servingVia: string[];
}

/**
 * A store is reachable if a service that checks it is SERVING; unreachable
 * (probably) if every such service is not; unknown if the report has none.
 */
export function inferDependencies(r: ReadinessReport | undefined): DependencyHealth[] {
  return Object.entries(DEPENDENCIES).map(([key, d]) => {
    const via = d.services.filter((s) => r?.services[s] !== undefined);
    const servingVia = via.filter((s) => r?.services[s]?.status === "SERVING");
    const state: DependencyState = via.length === 0 ? "unknown" : servingVia.length > 0 ? "reachable" : "unreachable";
    return { key, label: d.label, state, via, servingVia };
  });
}

export function parseReadiness(v: unknown): ReadinessReport | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const services: Record<string, ServiceReport> = {};
  if (typeof o["services"] === "object" && o["services"] !== null) {
    for (const [name, s] of Object.entries(o["services"] as Record<string, unknown>)) {
      const so = (typeof s === "object" && s !== null ? s : {}) as Record<string, unknown>;
      const eps = (typeof so["endpoints"] === "object" && so["endpoints"] !== null ? so["endpoints"] : {}) as Record<string, unknown>;
      services[name] = {
        status: typeof so["status"] === "string" ? so["status"] : "UNKNOWN",
        endpoints: Object.fromEntries(Object.entries(eps).map(([k, x]) => [k, String(x)])),
      };
    }
  }
  return { status: typeof o["status"] === "string" ? o["status"] : "unknown", services };
}
