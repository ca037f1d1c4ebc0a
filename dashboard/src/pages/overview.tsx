import { ArrowRight } from "lucide-react";
import { Link } from "react-router";

import { PageHeader } from "@/components/layout";
import { ErrorState } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import { TokenChart } from "@/components/token-chart";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { useAuditPage, useGatewayHealth } from "@/hooks/queries";
import { usePermission, useRequiredSession } from "@/hooks/session";
import { formatDateTime } from "@/lib/format";

function HealthSummary() {
  const q = useGatewayHealth(15_000);
  const r = q.data?.readiness;
  return (
    <Card>
      <CardHeader className="pb-3">
        <CardTitle>Platform</CardTitle>
        <CardDescription>Readiness through the gateway</CardDescription>
      </CardHeader>
      <CardContent>
        {!q.data ? <Skeleton className="h-16 w-full" /> : (
          <>
            <div className="mb-3 flex items-center gap-2"><StatusBadge status={r?.status ?? "unknown"} /></div>
            <ul className="space-y-1 text-sm">
              {Object.entries(r?.services ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([n, s]) => (
                <li key={n} className="flex items-center justify-between"><span>{n}</span><StatusBadge status={s.status} /></li>
              ))}
            </ul>
          </>
        )}
        <Link to="/health" className="mt-3 inline-flex items-center gap-1 text-sm underline underline-offset-4">Health details <ArrowRight className="h-3 w-3" aria-hidden /></Link>
      </CardContent>
    </Card>
  );
}

function RecentEvents() {
  const allowed = usePermission("readAudit");
  const q = useAuditPage({ pageSize: 8 }, "", allowed.allowed);
  return (
    <Card>
      <CardHeader className="pb-3">
        <CardTitle>Recent activity</CardTitle>
        <CardDescription>The newest audit events</CardDescription>
      </CardHeader>
      <CardContent>
        {!allowed.allowed ? <p className="text-sm text-muted-foreground">{allowed.reason}</p>
          : q.isError ? <ErrorState error={q.error} requiredScope="audit:read" />
          : !q.data ? <Skeleton className="h-32 w-full" />
          : q.data.items.length === 0 ? <p className="text-sm text-muted-foreground">No events yet.</p> : (
            <ul className="divide-y text-sm">
              {q.data.items.map((e) => (
                <li key={e.eventId} className="flex items-center justify-between gap-2 py-1.5">
                  <Link to={`/audit/${e.eventId}`} className="font-mono text-xs underline-offset-4 hover:underline">{e.action}</Link>
                  <span className="whitespace-nowrap text-xs text-muted-foreground">{formatDateTime(e.occurredAt)}</span>
                </li>
              ))}
            </ul>
          )}
      </CardContent>
    </Card>
  );
}

export function OverviewPage() {
  const session = useRequiredSession();
  return (
    <>
      <PageHeader title="Overview" description={<>Signed in as <span className="font-mono">{session.clientId}</span></>} />
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="lg:col-span-2"><TokenChart /></div>
        <HealthSummary />
        <div className="lg:col-span-3"><RecentEvents /></div>
      </div>
    </>
  );
}
