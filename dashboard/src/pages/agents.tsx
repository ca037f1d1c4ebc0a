import type { AgentFilter, AgentStatus } from "@sentryagent/idp-sdk";
import { Plus, Search } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { GatedButton } from "@/components/gated-button";
import { PageHeader } from "@/components/layout";
import { Pager, useCursor } from "@/components/pager";
import { EmptyState, ErrorState, TableSkeleton } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useHotkey } from "@/hooks/hotkey";
import { useAgentsPage, useCallerOwner } from "@/hooks/queries";
import { usePermission, usePlatformAdmin } from "@/hooks/session";
import { formatDateTime } from "@/lib/format";

const STATUSES: AgentStatus[] = ["active", "suspended", "decommissioned"];

export function AgentsPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const canRegister = usePermission("registerAgent");
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  const search = params.get("search") ?? "";
  const status = (params.get("status") ?? "") as AgentStatus | "";
  // Only a platform admin chooses an owner; the server shows anyone else
  // only its own owner's agents, whatever the filter says.
  const owner = platform ? params.get("owner") ?? "" : "";
  const agentType = params.get("type") ?? "";
  const pageSize = Number(params.get("pageSize") ?? 20) || 20;
  const [searchText, setSearchText] = useState(search);
  const searchBox = useRef<HTMLInputElement>(null);
  useHotkey("/", useCallback(() => searchBox.current?.focus(), []));

  const set = useCallback((k: string, v: string) => {
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (v) n.set(k, v);
      else n.delete(k);
      return n;
    }, { replace: true });
  }, [setParams]);

  // Search as you type, a moment after the last key.
  useEffect(() => {
    if (searchText === search) return;
    const t = setTimeout(() => set("search", searchText.trim()), 300);
    return () => clearTimeout(t);
  }, [searchText, search, set]);

  const filter: AgentFilter = {
    pageSize, ...(search ? { search } : {}), ...(status ? { status } : {}), ...(owner ? { owner } : {}), ...(agentType ? { agentType } : {}),
  };
  const cursor = useCursor(JSON.stringify(filter));
  const q = useAgentsPage(filter, cursor.token);
  const filtered = !!(search || status || owner || agentType);

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
          <form role="search" className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-4" onSubmit={(e) => { e.preventDefault(); set("search", searchText.trim()); }}>
            <div className="space-y-1.5">
              <Label htmlFor="agent-search">Name</Label>
              <div className="relative">
                <Search className="pointer-events-none absolute left-2.5 top-2.5 h-4 w-4 text-muted-foreground" aria-hidden />
                <Input id="agent-search" ref={searchBox} className="pl-8" placeholder="Search names (press /)" value={searchText}
                  onChange={(e) => setSearchText(e.target.value)} />
              </div>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="agent-status">Status</Label>
              <NativeSelect id="agent-status" value={status} onChange={(e) => set("status", e.target.value)}>
                <option value="">Any status</option>
                {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
              </NativeSelect>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="agent-owner">Owner</Label>
              {platform ? (
                <Input id="agent-owner" placeholder="every owner" defaultValue={owner}
                  onBlur={(e) => set("owner", e.target.value.trim())} onKeyDown={(e) => { if (e.key === "Enter") set("owner", e.currentTarget.value.trim()); }} />
              ) : (
                <Input id="agent-owner" value={callerOwner ?? ""} readOnly aria-readonly="true" aria-describedby="agent-owner-hint"
                  className="bg-muted font-mono text-xs" title="Only a platform admin sees other owners' agents" />
              )}
              {!platform && <p id="agent-owner-hint" className="sr-only">Yours: only a platform admin sees other owners' agents.</p>}
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="agent-type">Type</Label>
              <Input id="agent-type" placeholder="e.g. assistant" defaultValue={agentType}
                onBlur={(e) => set("type", e.target.value.trim())} onKeyDown={(e) => { if (e.key === "Enter") set("type", e.currentTarget.value.trim()); }} />
            </div>
          </form>

          {q.isError ? (
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
            pageSize={pageSize} onPageSize={(n) => set("pageSize", String(n))} busy={q.isFetching} />
        </CardContent>
      </Card>
    </>
  );
}
