import { zodResolver } from "@hookform/resolvers/zod";
import type { AuditFilter } from "@sentryagent/idp-sdk";
import { Loader2, RefreshCw, ShieldAlert, ShieldCheck } from "lucide-react";
import { useCallback, useEffect, type ComponentProps } from "react";
import { useForm } from "react-hook-form";
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
import { Form, FormControl, FormField, FormItem, FormLabel, FormMessage } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useHotkey } from "@/hooks/hotkey";
import { useAuditEvent, useAuditPage, useAuditVerify, useCallerOwner } from "@/hooks/queries";
import { usePermission, usePlatformAdmin } from "@/hooks/session";
import { fieldViolations } from "@/lib/errors";
import { AUDIT_FILTERS, auditFilterForm, auditFilterValues, auditFormField, type AuditFilterValues } from "@/lib/forms/audit";
import { showFieldViolations } from "@/lib/forms/server";
import { formatDateTime, fromLocalInput, shortId } from "@/lib/format";
import { OUTCOMES } from "@/lib/rules/audit";

/** The actions producers record today (docs/audit.md). */
export const KNOWN_ACTIONS = [
  "agent.registered", "agent.updated", "agent.suspended", "agent.reactivated", "agent.decommissioned",
  "credential.generated", "credential.rotated", "credential.revoked", "credential.grace_ended",
  "token.issued", "token.denied", "token.revoked", "authz.denied", "policy.reloaded", "audit.retention",
];

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

/** The filters, as the URL holds them; applying valid ones changes the URL (and so the query). */
function FilterForm({ values, platform, onApply, onClear, serverError }: {
  values: AuditFilterValues; platform: boolean; onApply: (v: AuditFilterValues) => void; onClear: () => void; serverError: unknown;
}) {
  const form = useForm({ resolver: zodResolver(auditFilterForm), defaultValues: values });
  useHotkey("/", useCallback(() => form.setFocus("agentId"), [form]));
  // A URL with filters the service would refuse shows why, as a submit would.
  const invalid = !auditFilterForm.safeParse(values).success;
  useEffect(() => {
    if (invalid) void form.trigger();
  }, [invalid, form]);
  // So does a refusal from the service itself.
  useEffect(() => {
    showFieldViolations(form.setError, serverError, auditFormField);
  }, [serverError, form]);
  const text = (name: "agentId" | "action" | "actor" | "owner", label: string, props: ComponentProps<typeof Input>, className = "lg:col-span-2") => (
    <FormField control={form.control} name={name} render={({ field }) => (
      <FormItem id={`audit-${name === "agentId" ? "agent" : name}`} className={className}>
        <FormLabel>{label}</FormLabel>
        <FormControl><Input {...field} spellCheck={false} {...props} /></FormControl>
        <FormMessage />
      </FormItem>
    )} />
  );
  return (
    <Form {...form}>
      <form onSubmit={(e) => void form.handleSubmit(onApply)(e)} noValidate className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-6" aria-label="Filter audit events">
        {text("agentId", "Agent ID", { placeholder: "a UUID (press /)", className: "font-mono text-xs" })}
        {text("action", "Action", { list: "audit-actions", placeholder: "any" }, "")}
        <datalist id="audit-actions">{KNOWN_ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
        <FormField control={form.control} name="outcome" render={({ field }) => (
          <FormItem id="audit-outcome">
            <FormLabel>Outcome</FormLabel>
            <FormControl>
              <NativeSelect {...field}>
                <option value="">Any</option>
                {OUTCOMES.map((o) => <option key={o} value={o}>{o}</option>)}
              </NativeSelect>
            </FormControl>
            <FormMessage />
          </FormItem>
        )} />
        {text("actor", "Actor", { placeholder: "agent ID or system", className: "font-mono text-xs" })}
        {platform && text("owner", "Owner", { placeholder: "every owner" })}
        {(["from", "to"] as const).map((name) => (
          <FormField key={name} control={form.control} name={name} render={({ field }) => (
            <FormItem id={`audit-${name}`} className="lg:col-span-2">
              <FormLabel>{name === "from" ? "From" : "To (exclusive)"}</FormLabel>
              <FormControl><Input type="datetime-local" {...field} /></FormControl>
              <FormMessage />
            </FormItem>
          )} />
        ))}
        <div className="flex items-end gap-2 lg:col-span-2">
          <Button type="submit" data-testid="apply-filters">Apply filters</Button>
          <Button type="button" variant="outline" onClick={onClear}>Clear</Button>
        </div>
      </form>
    </Form>
  );
}

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const { eventId } = useParams();
  const navigate = useNavigate();
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  // Only a platform admin reads other owners' logs; the server confines
  // anyone else to its own, whatever it asks for.
  const values = auditFilterValues(params, platform);
  const checked = auditFilterForm.safeParse(values);
  const pageSize = Number(params.get("pageSize") ?? 50) || 50;
  const v = checked.success ? checked.data : undefined;
  const start = fromLocalInput(v?.from ?? "");
  const end = fromLocalInput(v?.to ?? "");
  const filter: AuditFilter = {
    pageSize, ...(v?.agentId ? { agentId: v.agentId } : {}), ...(v?.action ? { action: v.action } : {}),
    ...(v?.outcome ? { outcome: v.outcome as AuditFilter["outcome"] } : {}), ...(v?.actor ? { actor: v.actor } : {}),
    ...(v?.owner ? { owner: v.owner } : {}), ...(start ? { startTime: start } : {}), ...(end ? { endTime: end } : {}),
  };
  const cursor = useCursor(JSON.stringify(filter));
  const q = useAuditPage(filter, cursor.token, checked.success);
  const qs = params.toString() ? `?${params.toString()}` : "";
  // A refusal that names a filter shows on that filter, not as the list's error.
  const onField = fieldViolations(q.error).some((f) => auditFormField(f.field));

  const apply = (f: AuditFilterValues) => {
    const n = new URLSearchParams();
    for (const k of AUDIT_FILTERS) if (f[k]) n.set(k, f[k]);
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
          <FilterForm key={qs} values={values} platform={platform} onApply={apply} onClear={() => setParams(new URLSearchParams())} serverError={q.error} />

          {q.isError && onField ? null : q.isError ? (
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
