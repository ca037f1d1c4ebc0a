import type { AuditFilter } from "@sentryagent/idp-sdk";
import { Loader2, RefreshCw, ShieldAlert, ShieldCheck } from "lucide-react";
import { useCallback, useRef, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { GatedButton } from "@/components/gated-button";
import { PageHeader } from "@/components/layout";
import { Pager, useCursor } from "@/components/pager";
import { EmptyState, ErrorState, Loading, TableSkeleton } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useHotkey } from "@/hooks/hotkey";
import { useAuditEvent, useAuditPage, useAuditVerify, useCallerOwner } from "@/hooks/queries";
import { usePermission, usePlatformAdmin } from "@/hooks/session";
import { formatDateTime, fromLocalInput, shortId, toLocalInput } from "@/lib/format";

/** The actions producers record today (docs/audit.md). */
export const KNOWN_ACTIONS = [
  "agent.registered", "agent.updated", "agent.suspended", "agent.reactivated", "agent.decommissioned",
  "credential.generated", "credential.rotated", "credential.revoked", "credential.grace_ended",
  "token.issued", "token.denied", "token.revoked", "authz.denied", "policy.reloaded", "audit.retention",
];
const OUTCOMES = ["success", "failure", "denied"] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The hash chain's verification. The chain spans every owner's events, so
 * only a platform admin verifies it; anyone else sees why not.
 */
function ChainStatus() {
  const canVerify = usePermission("verifyAuditChain");
  const q = useAuditVerify(canVerify.allowed);
  if (!canVerify.allowed) {
    return (
      <Alert data-testid="chain-status" data-state="not-allowed">
        <ShieldCheck className="h-4 w-4" aria-hidden />
        <AlertTitle>Hash chain</AlertTitle>
        <AlertDescription>
          <p>The chain links every owner's events, so only a platform admin verifies it.</p>
          <div className="mt-2">
            <GatedButton variant="outline" size="sm" permission={canVerify} data-testid="verify-chain">
              <ShieldCheck aria-hidden /> Verify the chain
            </GatedButton>
          </div>
        </AlertDescription>
      </Alert>
    );
  }
  if (q.isError) return <ErrorState error={q.error} requiredScope="audit:read" onRetry={() => void q.refetch()} />;
  if (!q.data) {
    return (
      <Alert data-testid="chain-status" data-state="checking">
        <Loader2 className="h-4 w-4 animate-spin" aria-hidden />
        <AlertTitle>Verifying the hash chain…</AlertTitle>
        <AlertDescription>Recomputing every event's hash.</AlertDescription>
      </Alert>
    );
  }
  const v = q.data;
  const again = (
    <div className="mt-2">
      <Button variant="outline" size="sm" onClick={() => void q.refetch()} disabled={q.isFetching}>
        <RefreshCw className={q.isFetching ? "animate-spin" : undefined} aria-hidden /> Verify again
      </Button>
    </div>
  );
  if (v.ok) {
    return (
      <Alert variant="success" data-testid="chain-status" data-state="ok">
        <ShieldCheck className="h-4 w-4" aria-hidden />
        <AlertTitle>Chain intact</AlertTitle>
        <AlertDescription>
          {v.eventsChecked} events checked (sequence {v.fromSequence} to {v.toSequence}): none was altered, removed or reordered.
          {again}
        </AlertDescription>
      </Alert>
    );
  }
  const b = v.firstBreak;
  return (
    <Alert variant="destructive" data-testid="chain-status" data-state="broken" role="alert">
      <ShieldAlert className="h-4 w-4" aria-hidden />
      <AlertTitle>Chain broken{b ? ` at sequence ${b.sequence}` : ""}</AlertTitle>
      <AlertDescription>
        {b && (
          <>
            <p><strong>{b.kind.replace(/_/g, " ")}</strong>{b.eventId && <> — event <Link className="underline" to={`/audit/${b.eventId}`}>{b.eventId}</Link></>}</p>
            <p className="break-all font-mono text-xs">expected {b.expected}<br />actual {b.actual}</p>
          </>
        )}
        {again}
      </AlertDescription>
    </Alert>
  );
}

function EventDialog({ eventId, onClose }: { eventId: string | undefined; onClose: () => void }) {
  const q = useAuditEvent(eventId);
  const e = q.data;
  return (
    <Dialog open={!!eventId} onOpenChange={(o) => { if (!o) onClose(); }}>
      <DialogContent className="max-w-2xl" data-testid="audit-event">
        <DialogHeader>
          <DialogTitle>{e ? e.action : "Audit event"}</DialogTitle>
          <DialogDescription className="font-mono text-xs">{eventId}</DialogDescription>
        </DialogHeader>
        {q.isError ? <ErrorState error={q.error} requiredScope="audit:read" /> : !e ? <Loading label="Loading the event" /> : (
          <dl className="grid grid-cols-3 gap-x-3 gap-y-2 text-sm">
            {([
              ["Occurred", formatDateTime(e.occurredAt)], ["Recorded", formatDateTime(e.recordedAt)],
              ["Outcome", <StatusBadge key="o" status={e.outcome} />], ["Actor", <span key="a" className="font-mono text-xs">{e.actor}</span>],
              ["Owner", <span key="w" className="font-mono text-xs" data-testid="event-owner">{e.owner || "— (platform)"}</span>],
              ["Target", <span key="t" className="font-mono text-xs">{e.target || "—"}</span>],
              ["Agent", e.agentId ? <Link key="g" className="font-mono text-xs underline" to={`/agents/${e.agentId}`}>{e.agentId}</Link> : "—"],
              ["Request", <span key="r" className="font-mono text-xs">{e.requestId || "—"}</span>], ["Source", e.sourceAddress || "—"],
              ["Sequence", String(e.sequence)],
              ["Previous hash", <span key="p" className="break-all font-mono text-xs">{e.prevHash}</span>],
              ["Hash", <span key="h" className="break-all font-mono text-xs">{e.hash}</span>],
            ] as const).map(([k, v]) => (
              <div key={k} className="contents"><dt className="text-muted-foreground">{k}</dt><dd className="col-span-2 min-w-0 break-words">{v}</dd></div>
            ))}
            <dt className="text-muted-foreground">Details</dt>
            <dd className="col-span-2">
              {Object.keys(e.details).length === 0 ? "—" : (
                <ul className="font-mono text-xs">{Object.entries(e.details).sort().map(([k, v]) => <li key={k} className="break-all">{k}: {v}</li>)}</ul>
              )}
            </dd>
          </dl>
        )}
      </DialogContent>
    </Dialog>
  );
}

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const { eventId } = useParams();
  const navigate = useNavigate();
  const agentBox = useRef<HTMLInputElement>(null);
  useHotkey("/", useCallback(() => agentBox.current?.focus(), []));

  const agentId = params.get("agentId") ?? "";
  const action = params.get("action") ?? "";
  const outcome = (params.get("outcome") ?? "") as AuditFilter["outcome"] | "";
  const actor = params.get("actor") ?? "";
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  // Only a platform admin reads other owners' logs; the server confines
  // anyone else to its own, whatever it asks for.
  const owner = platform ? params.get("owner") ?? "" : "";
  const start = fromLocalInput(params.get("from") ?? "");
  const end = fromLocalInput(params.get("to") ?? "");
  const pageSize = Number(params.get("pageSize") ?? 50) || 50;
  const badAgent = agentId !== "" && !UUID.test(agentId);
  const badRange = !!(start && end && start >= end);

  const filter: AuditFilter = {
    pageSize, ...(agentId && !badAgent ? { agentId } : {}), ...(action ? { action } : {}), ...(outcome ? { outcome } : {}),
    ...(actor ? { actor } : {}), ...(owner ? { owner } : {}), ...(start ? { startTime: start } : {}), ...(end ? { endTime: end } : {}),
  };
  const cursor = useCursor(JSON.stringify(filter));
  const q = useAuditPage(filter, cursor.token, !badAgent && !badRange);
  const qs = params.toString() ? `?${params.toString()}` : "";

  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const n = new URLSearchParams();
    for (const k of ["agentId", "action", "outcome", "actor", "owner", "from", "to"]) {
      const raw = f.get(k);
      const v = typeof raw === "string" ? raw.trim() : "";
      if (v) n.set(k, v);
    }
    if (pageSize !== 50) n.set("pageSize", String(pageSize));
    setParams(n);
  };

  return (
    <>
      <PageHeader title="Audit Log" description={platform
        ? "Everything that changed, every owner's, newest first; hash-chained so that tampering shows."
        : <>Everything that changed in your owner{callerOwner ? <> <span className="font-mono">{callerOwner}</span></> : ""}, newest first; hash-chained so that tampering shows.</>} />
      <div className="mb-6"><ChainStatus /></div>
      <Card>
        <CardContent className="p-4">
          <form key={qs} onSubmit={apply} className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-6" aria-label="Filter audit events">
            <div className="space-y-1.5 lg:col-span-2">
              <Label htmlFor="audit-agent">Agent ID</Label>
              <Input id="audit-agent" name="agentId" ref={agentBox} defaultValue={agentId} placeholder="a UUID (press /)" spellCheck={false}
                aria-invalid={badAgent || undefined} aria-describedby={badAgent ? "audit-agent-error" : undefined} className="font-mono text-xs" />
              {badAgent && <p id="audit-agent-error" className="text-xs font-medium text-red-700 dark:text-red-300">Not an agent ID (a UUID).</p>}
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="audit-action">Action</Label>
              <Input id="audit-action" name="action" defaultValue={action} list="audit-actions" placeholder="any" spellCheck={false} />
              <datalist id="audit-actions">{KNOWN_ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="audit-outcome">Outcome</Label>
              <NativeSelect id="audit-outcome" name="outcome" defaultValue={outcome ?? ""}>
                <option value="">Any</option>
                {OUTCOMES.map((o) => <option key={o} value={o}>{o}</option>)}
              </NativeSelect>
            </div>
            <div className="space-y-1.5 lg:col-span-2">
              <Label htmlFor="audit-actor">Actor</Label>
              <Input id="audit-actor" name="actor" defaultValue={actor} placeholder="agent ID or system" spellCheck={false} className="font-mono text-xs" />
            </div>
            {platform && (
              <div className="space-y-1.5 lg:col-span-2">
                <Label htmlFor="audit-owner">Owner</Label>
                <Input id="audit-owner" name="owner" defaultValue={owner} placeholder="every owner" spellCheck={false} />
              </div>
            )}
            <div className="space-y-1.5 lg:col-span-2">
              <Label htmlFor="audit-from">From</Label>
              <Input id="audit-from" name="from" type="datetime-local" defaultValue={toLocalInput(start)} />
            </div>
            <div className="space-y-1.5 lg:col-span-2">
              <Label htmlFor="audit-to">To (exclusive)</Label>
              <Input id="audit-to" name="to" type="datetime-local" defaultValue={toLocalInput(end)}
                aria-invalid={badRange || undefined} aria-describedby={badRange ? "audit-range-error" : undefined} />
              {badRange && <p id="audit-range-error" className="text-xs font-medium text-red-700 dark:text-red-300">“To” must be after “From”.</p>}
            </div>
            <div className="flex items-end gap-2 lg:col-span-2">
              <Button type="submit" data-testid="apply-filters">Apply filters</Button>
              <Button type="button" variant="outline" onClick={() => setParams(new URLSearchParams())}>Clear</Button>
            </div>
          </form>

          {q.isError ? (
            <ErrorState error={q.error} requiredScope="audit:read" onRetry={() => void q.refetch()} />
          ) : q.data && q.data.items.length === 0 ? (
            <EmptyState title="No events match">Change the filters or the time range.</EmptyState>
          ) : (
            <Table aria-busy={q.isFetching} data-testid="audit-table">
              <TableHeader>
                <TableRow>
                  <TableHead>Time</TableHead>
                  <TableHead>Action</TableHead>
                  <TableHead>Outcome</TableHead>
                  <TableHead>Actor</TableHead>
                  <TableHead>Owner</TableHead>
                  <TableHead>Target</TableHead>
                  <TableHead><span className="sr-only">Details</span></TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {!q.data ? <TableSkeleton cols={7} /> : q.data.items.map((e) => (
                  <TableRow key={e.eventId} data-action={e.action} data-owner={e.owner} className="cursor-pointer" onClick={() => void navigate(`/audit/${e.eventId}${qs}`)}>
                    <TableCell className="whitespace-nowrap text-muted-foreground">{formatDateTime(e.occurredAt)}</TableCell>
                    <TableCell className="font-mono text-xs">{e.action}</TableCell>
                    <TableCell><StatusBadge status={e.outcome} /></TableCell>
                    <TableCell className="font-mono text-xs" title={e.actor}>{shortId(e.actor)}</TableCell>
                    <TableCell className="max-w-[10rem] truncate font-mono text-xs" title={e.owner}>{e.owner || "—"}</TableCell>
                    <TableCell className="max-w-[14rem] truncate font-mono text-xs" title={e.target}>{e.target || "—"}</TableCell>
                    <TableCell className="text-right">
                      <Link to={`/audit/${e.eventId}${qs}`} className="text-sm underline underline-offset-4" onClick={(ev) => ev.stopPropagation()}
                        aria-label={`Details of ${e.action} at ${formatDateTime(e.occurredAt)}`}>
                        Details
                      </Link>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
          <Pager label="Audit" index={cursor.index} nextToken={q.data?.nextPageToken} onNext={cursor.next} onPrev={cursor.prev}
            pageSize={pageSize} busy={q.isFetching}
            onPageSize={(n) => setParams((p) => { const x = new URLSearchParams(p); x.set("pageSize", String(n)); return x; })} />
        </CardContent>
      </Card>
      <EventDialog eventId={eventId} onClose={() => void navigate(`/audit${qs}`)} />
      <span className="sr-only" aria-live="polite">{q.isFetching ? "Loading events" : ""}</span>
    </>
  );
}
