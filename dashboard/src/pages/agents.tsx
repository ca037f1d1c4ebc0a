import { zodResolver } from "@hookform/resolvers/zod";
import type { AgentFilter, AgentStatus } from "@sentryagent/idp-sdk";
import { Plus, Search } from "lucide-react";
import { useCallback, useEffect, useMemo, type KeyboardEvent } from "react";
import { useForm, useWatch } from "react-hook-form";
import { Link, useNavigate, useSearchParams } from "react-router";

import { GatedButton } from "@/components/gated-button";
import { PageHeader } from "@/components/layout";
import { Pager, useCursor } from "@/components/pager";
import { EmptyState, ErrorState, TableSkeleton } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent } from "@/components/ui/card";
import { Form, FormControl, FormField, FormItem, FormLabel, FormMessage } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useHotkey } from "@/hooks/hotkey";
import { useAgentsPage, useCallerOwner } from "@/hooks/queries";
import { usePermission, usePlatformAdmin } from "@/hooks/session";
import { fieldViolations } from "@/lib/errors";
import { AGENT_FILTER_PARAMS, agentFilterForm, agentFilterFormField, agentFilterValues } from "@/lib/forms/agents";
import { showFieldViolations } from "@/lib/forms/server";
import { formatDateTime } from "@/lib/format";
import { STATUSES } from "@/lib/rules/registry";
import { trimSpace } from "@/lib/rules/rule";


export function AgentsPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const canRegister = usePermission("registerAgent");
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  // Only a platform admin chooses an owner; the server shows anyone else
  // only its own owner's agents, whatever the filter says.
  const values = agentFilterValues(params, platform);
  const checked = agentFilterForm.safeParse(values);
  const pageSize = Number(params.get("pageSize") ?? 20) || 20;
  // Filters apply on change and on leaving a field: a refused one must not
  // pull the focus back to itself (its message shows as it is typed).
  const form = useForm({ resolver: zodResolver(agentFilterForm), defaultValues: values, mode: "onChange", shouldFocusError: false });
  useHotkey("/", useCallback(() => form.setFocus("search"), [form]));

  // Valid filters go to the URL, which the query follows.
  const apply = useMemo(() => form.handleSubmit((v) => setParams((p) => {
    const n = new URLSearchParams(p);
    for (const [k, param] of Object.entries(AGENT_FILTER_PARAMS)) {
      const x = v[k as keyof typeof v];
      if (x) n.set(param, x);
      else n.delete(param);
    }
    return n;
  }, { replace: true })), [form, setParams]);

  // Search as you type, a moment after the last key.
  const search = useWatch({ control: form.control, name: "search" });
  useEffect(() => {
    if (trimSpace(search) === values.search) return;
    const t = setTimeout(() => void apply(), 300);
    return () => clearTimeout(t);
  }, [search, values.search, apply]);
  // A URL with filters the registry would refuse shows why, as applying them would.
  useEffect(() => {
    if (!checked.success) void form.trigger();
  }, [checked.success, form]);

  const v = checked.success ? checked.data : undefined;
  const filter: AgentFilter = {
    pageSize, ...(v?.search ? { search: v.search } : {}), ...(v?.status ? { status: v.status as AgentStatus } : {}),
    ...(v?.owner ? { owner: v.owner } : {}), ...(v?.agentType ? { agentType: v.agentType } : {}),
  };
  const cursor = useCursor(JSON.stringify(filter));
  const q = useAgentsPage(filter, cursor.token, checked.success);
  const filtered = !!(filter.search || filter.status || filter.owner || filter.agentType);
  // A refusal that names a filter shows on that filter, not as the list's error.
  useEffect(() => {
    showFieldViolations(form.setError, q.error, agentFilterFormField);
  }, [q.error, form]);
  const onField = fieldViolations(q.error).some((f) => agentFilterFormField(f.field));
  const onEnter = (e: KeyboardEvent) => { if (e.key === "Enter") void apply(); };

  return (
    <>
      <PageHeader
        title="Agents"
        description={platform
          ? "Every owner's agents: search by name, filter, open one to manage its lifecycle and credentials."
          : <>The agents of your owner{callerOwner ? <> <span className="font-mono">{callerOwner}</span></> : ""}: search by name, filter, open one to manage its lifecycle and credentials.</>}
        actions={
          <GatedButton permission={canRegister} onClick={() => navigate("/agents/new")} data-testid="register-agent">
            <Plus aria-hidden /> Register agent
          </GatedButton>
        }
      />
      <Card>
        <CardContent className="p-4">
          <Form {...form}>
            <form role="search" noValidate className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-4" onSubmit={(e) => void apply(e)}>
              <FormField control={form.control} name="search" render={({ field }) => (
                <FormItem id="agent-search">
                  <FormLabel>Name</FormLabel>
                  <div className="relative">
                    <Search className="pointer-events-none absolute left-2.5 top-2.5 h-4 w-4 text-muted-foreground" aria-hidden />
                    <FormControl><Input {...field} className="pl-8" placeholder="Search names (press /)" /></FormControl>
                  </div>
                  <FormMessage />
                </FormItem>
              )} />
              <FormField control={form.control} name="status" render={({ field }) => (
                <FormItem id="agent-status">
                  <FormLabel>Status</FormLabel>
                  <FormControl>
                    <NativeSelect {...field} onChange={(e) => { field.onChange(e); void apply(); }}>
                      <option value="">Any status</option>
                      {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
                    </NativeSelect>
                  </FormControl>
                  <FormMessage />
                </FormItem>
              )} />
              {platform ? (
                <FormField control={form.control} name="owner" render={({ field }) => (
                  <FormItem id="agent-owner">
                    <FormLabel>Owner</FormLabel>
                    <FormControl>
                      <Input {...field} placeholder="every owner" onBlur={() => { field.onBlur(); void apply(); }} onKeyDown={onEnter} />
                    </FormControl>
                    <FormMessage />
                  </FormItem>
                )} />
              ) : (
                <div className="space-y-1.5">
                  <Label htmlFor="agent-owner">Owner</Label>
                  <Input id="agent-owner" value={callerOwner ?? ""} readOnly aria-readonly="true" aria-describedby="agent-owner-hint"
                    className="bg-muted font-mono text-xs" title="Only a platform admin sees other owners' agents" />
                  <p id="agent-owner-hint" className="sr-only">Yours: only a platform admin sees other owners' agents.</p>
                </div>
              )}
              <FormField control={form.control} name="agentType" render={({ field }) => (
                <FormItem id="agent-type">
                  <FormLabel>Type</FormLabel>
                  <FormControl>
                    <Input {...field} placeholder="e.g. assistant" onBlur={() => { field.onBlur(); void apply(); }} onKeyDown={onEnter} />
                  </FormControl>
                  <FormMessage />
                </FormItem>
              )} />
            </form>
          </Form>

          {q.isError && onField ? null : q.isError ? (
            <ErrorState error={q.error} requiredScope="agents:read" onRetry={() => void q.refetch()} />
          ) : q.data && q.data.items.length === 0 ? (
            <EmptyState title={filtered ? "No agent matches these filters" : "No agents yet"}>
              {filtered ? "Change or clear the filters." : canRegister.allowed ? "Register the first one." : "Ask someone with agents:write to register one."}
            </EmptyState>
          ) : (
            <Table aria-busy={q.isFetching} data-testid="agents-table">
              <TableHeader>
                <TableRow>
                  <TableHead>Name</TableHead>
                  <TableHead>Status</TableHead>
                  <TableHead>Type</TableHead>
                  <TableHead>Owner</TableHead>
                  <TableHead>Scopes</TableHead>
                  <TableHead>Registered</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {!q.data ? <TableSkeleton cols={6} /> : q.data.items.map((a) => (
                  <TableRow key={a.agentId} data-agent={a.agentId} data-owner={a.owner}>
                    <TableCell className="font-medium">
                      <Link to={`/agents/${a.agentId}`} className="underline-offset-4 hover:underline focus-visible:underline">{a.name}</Link>
                      <div className="font-mono text-xs text-muted-foreground">{a.agentId}</div>
                    </TableCell>
                    <TableCell><StatusBadge status={a.status} /></TableCell>
                    <TableCell>{a.agentType || "—"}</TableCell>
                    <TableCell>{a.owner || "—"}</TableCell>
                    <TableCell>
                      <div className="flex max-w-[16rem] flex-wrap gap-1">
                        {a.scopes.length === 0 ? <span className="text-muted-foreground">none</span> : a.scopes.map((s) => <Badge key={s} variant="outline" className="font-mono font-normal">{s}</Badge>)}
                      </div>
                    </TableCell>
                    <TableCell className="whitespace-nowrap text-muted-foreground">{formatDateTime(a.createdAt)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
          <Pager label="Agents" index={cursor.index} nextToken={q.data?.nextPageToken} onNext={cursor.next} onPrev={cursor.prev}
            pageSize={pageSize} onPageSize={(n) => setParams((p) => { const x = new URLSearchParams(p); x.set("pageSize", String(n)); return x; }, { replace: true })} busy={q.isFetching} />
        </CardContent>
      </Card>
    </>
  );
}
