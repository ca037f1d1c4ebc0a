import { Activity, Database, RefreshCw, Server } from "lucide-react";
import { useState } from "react";

import { PageHeader } from "@/components/layout";
import { Loading } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useGatewayHealth } from "@/hooks/queries";
import { duration, formatDateTime } from "@/lib/format";
import { inferDependencies } from "@/lib/health";
import { cn } from "@/lib/utils";

const HISTORY = 30;

interface Observed {
  at?: Date;
  history: Record<string, boolean[]>;
  upSince: Record<string, Date | undefined>;
}

/** Adds one readiness check to what this tab has seen: one mark per check, and since when each service has been up. */
export function observe(prev: Observed, services: Record<string, { status: string }>, at: Date): Observed {
  const history = { ...prev.history };
  const upSince = { ...prev.upSince };
  for (const [name, s] of Object.entries(services)) {
    const up = s.status === "SERVING";
    history[name] = [...(history[name] ?? []), up].slice(-HISTORY);
    upSince[name] = up ? (upSince[name] ?? at) : undefined;
  }
  return { at, history, upSince };
}

export function HealthPage() {
  const q = useGatewayHealth();
  const h = q.data;
  const services = h?.readiness?.services;
  const [observed, setObserved] = useState<Observed>({ history: {}, upSince: {} });
  // Each new check result is folded in once (state derived from the previous render's).
  if (services && h && observed.at !== h.checkedAt) setObserved(observe(observed, services, h.checkedAt));
  const deps = inferDependencies(h?.readiness);

  return (
    <>
      <PageHeader
        title="Health"
        description="The gateway's liveness and each service's readiness, checked every 5 seconds through the gateway."
        actions={<Button variant="outline" onClick={() => void q.refetch()} disabled={q.isFetching}><RefreshCw className={cn(q.isFetching && "animate-spin")} aria-hidden /> Check now</Button>}
      />
      {!h ? (q.isError ? <Alert variant="destructive" role="alert"><AlertTitle>The gateway did not answer</AlertTitle></Alert> : <Loading label="Checking health" />) : (
        <div className="space-y-6">
          <div className="grid gap-4 md:grid-cols-3">
            <Card data-testid="gateway-live">
              <CardHeader className="pb-2"><CardDescription className="flex items-center gap-2"><Activity className="h-4 w-4" aria-hidden /> Gateway (Envoy) liveness</CardDescription></CardHeader>
              <CardContent><div className="flex items-center gap-2 text-lg font-semibold"><StatusBadge status={h.live ? "SERVING" : "UNREACHABLE"} /> {h.live ? "up" : "down"}</div>
                <p className="mt-1 text-xs text-muted-foreground">GET /healthz · {h.latencyMs} ms</p></CardContent>
            </Card>
            <Card data-testid="platform-ready">
              <CardHeader className="pb-2"><CardDescription className="flex items-center gap-2"><Server className="h-4 w-4" aria-hidden /> Platform readiness</CardDescription></CardHeader>
              <CardContent><div className="flex items-center gap-2 text-lg font-semibold"><StatusBadge status={h.readiness?.status ?? "unknown"} /></div>
                <p className="mt-1 text-xs text-muted-foreground">GET /readyz · HTTP {h.readyStatus || "—"}</p></CardContent>
            </Card>
            <Card>
              <CardHeader className="pb-2"><CardDescription>Last checked</CardDescription></CardHeader>
              <CardContent><div className="text-lg font-semibold">{formatDateTime(h.checkedAt)}</div>
                <p className="mt-1 text-xs text-muted-foreground">Refreshes every 5 s while this page is open.</p></CardContent>
            </Card>
          </div>

          <Card>
            <CardHeader>
              <CardTitle>Services</CardTitle>
              <CardDescription>A service is serving when any of its endpoints is; each endpoint answers the gateway's gRPC health check (or HTTP /readyz).</CardDescription>
            </CardHeader>
            <CardContent>
              <Table data-testid="services-table">
                <TableHeader>
                  <TableRow>
                    <TableHead>Service</TableHead>
                    <TableHead>Status</TableHead>
                    <TableHead>Endpoints</TableHead>
                    <TableHead>Up (seen from this tab)</TableHead>
                    <TableHead>Last {HISTORY} checks</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {Object.entries(services ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, s]) => (
                    <TableRow key={name} data-service={name}>
                      <TableCell className="font-medium">{name}</TableCell>
                      <TableCell><StatusBadge status={s.status} /></TableCell>
                      <TableCell>
                        <ul className="space-y-1">
                          {Object.entries(s.endpoints).map(([ep, st]) => (
                            <li key={ep} className="flex items-center gap-2"><span className="font-mono text-xs">{ep}</span><StatusBadge status={st} /></li>
                          ))}
                        </ul>
                      </TableCell>
                      <TableCell className="whitespace-nowrap text-sm text-muted-foreground">
                        {observed.upSince[name] ? `for ${duration(h.checkedAt.getTime() - observed.upSince[name].getTime())}` : "down"}
                      </TableCell>
                      <TableCell>
                        <div className="flex h-4 items-end gap-px" role="img"
                          aria-label={`${(observed.history[name] ?? []).filter(Boolean).length} of ${(observed.history[name] ?? []).length} checks serving`}>
                          {(observed.history[name] ?? []).map((up, i) => (
                            <span key={i} className={cn("inline-block h-4 w-1.5 rounded-sm", up ? "bg-green-600 dark:bg-green-400" : "bg-red-600 dark:bg-red-400")} />
                          ))}
                        </div>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </CardContent>
          </Card>

          <Card>
            <CardHeader>
              <CardTitle>Data stores</CardTitle>
              <CardDescription>
                /readyz reports services, not stores: a service reports serving only while its own checks of these stores pass,
                so a store is reachable when a service that checks it is serving.
              </CardDescription>
            </CardHeader>
            <CardContent>
              <ul className="grid gap-3 md:grid-cols-3" data-testid="dependencies">
                {deps.map((d) => (
                  <li key={d.key} className="rounded-lg border p-4" data-dependency={d.key} data-state={d.state}>
                    <div className="flex items-center gap-2 font-medium"><Database className="h-4 w-4" aria-hidden /> {d.label} <StatusBadge status={d.state} /></div>
                    <p className="mt-1 text-xs text-muted-foreground">
                      {d.via.length === 0 ? "No service in the report checks it." : `Checked by ${d.via.join(", ")}${d.servingVia.length ? `; serving: ${d.servingVia.join(", ")}` : ""}.`}
                    </p>
                  </li>
                ))}
              </ul>
            </CardContent>
          </Card>
          {h.readiness?.status !== "ready" && (
            <Alert variant="warning"><AlertTitle>Not ready</AlertTitle><AlertDescription>Calls to a service that is not serving fail with 503 SERVICE_UNAVAILABLE until it recovers.</AlertDescription></Alert>
          )}
        </div>
      )}
    </>
  );
}
