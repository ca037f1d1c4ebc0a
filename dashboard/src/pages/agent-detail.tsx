import { zodResolver } from "@hookform/resolvers/zod";
import type { Agent } from "@sentryagent/idp-sdk";
import { Ban, Loader2, Pause, Pencil, Play } from "lucide-react";
import { useMemo, useState, type ReactNode } from "react";
import { useForm } from "react-hook-form";
import { Link, useNavigate, useParams } from "react-router";
import { toast } from "sonner";
import * as z from "zod/mini";

import { CopyButton } from "@/components/copy-button";
import { GatedButton } from "@/components/gated-button";
import { PageHeader } from "@/components/layout";
import { EmptyState, ErrorState, Loading } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import {
  AlertDialog, AlertDialogCancel, AlertDialogContent, AlertDialogDescription, AlertDialogFooter, AlertDialogHeader, AlertDialogTitle,
} from "@/components/ui/alert-dialog";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Form, FormControl, FormField, FormItem, FormLabel } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { useAgent, useAgentLifecycle, type Lifecycle } from "@/hooks/queries";
import { useRequiredSession } from "@/hooks/session";
import { describeError, isNotFound } from "@/lib/errors";
import { formatDateTime } from "@/lib/format";
import { agentChangePermission } from "@/lib/scopes";

import { CredentialsCard } from "./credentials";

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-3 gap-2 py-2 text-sm">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="col-span-2 min-w-0 break-words">{children}</dd>
    </div>
  );
}

const list = (xs: string[]) => (xs.length === 0 ? <span className="text-muted-foreground">none</span> : (
  <div className="flex flex-wrap gap-1">{xs.map((x) => <Badge key={x} variant="outline" className="font-mono font-normal">{x}</Badge>)}</div>
));

/** The decommission confirmation: the agent's name, typed. */
function DecommissionForm({ agent: a, pending, onConfirm }: { agent: Agent; pending: boolean; onConfirm: () => void }) {
  const schema = useMemo(() => z.object({ name: z.string().check(z.refine((v) => v === a.name, `Type ${a.name} exactly.`)) }), [a.name]);
  const form = useForm({ resolver: zodResolver(schema), defaultValues: { name: "" }, mode: "onChange" });
  return (
    <Form {...form}>
      <form onSubmit={(e) => void form.handleSubmit(onConfirm)(e)} className="grid gap-4">
        <AlertDialogHeader>
          <AlertDialogTitle>Decommission {a.name}?</AlertDialogTitle>
          <AlertDialogDescription>
            This ends <strong>{a.name}</strong> (<span className="font-mono">{a.agentId}</span>) for good: every credential and token
            of it stops working. The record stays for the audit log. This cannot be undone.
          </AlertDialogDescription>
        </AlertDialogHeader>
        <FormField control={form.control} name="name" render={({ field }) => (
          <FormItem id="confirm-name">
            <FormLabel>Type <span className="font-mono">{a.name}</span> to confirm</FormLabel>
            <FormControl><Input {...field} autoComplete="off" spellCheck={false} /></FormControl>
          </FormItem>
        )} />
        <AlertDialogFooter>
          <AlertDialogCancel type="button">Cancel</AlertDialogCancel>
          <Button type="submit" variant="destructive" disabled={!form.formState.isValid || pending} data-testid="confirm-decommission">
            {pending && <Loader2 className="animate-spin" aria-hidden />} Decommission {a.name}
          </Button>
        </AlertDialogFooter>
      </form>
    </Form>
  );
}

export function AgentDetailPage() {
  const { agentId = "" } = useParams();
  const session = useRequiredSession();
  const navigate = useNavigate();
  const q = useAgent(agentId);
  const lifecycle = useAgentLifecycle(agentId);
  const [confirming, setConfirming] = useState(false);

  if (q.isError) {
    // Another owner's agent answers exactly as one that does not exist.
    return (
      <>
        <PageHeader title={isNotFound(q.error) ? "Agent not found" : "Agent"} description={<Link to="/agents" className="underline">Back to agents</Link>} />
        {isNotFound(q.error) ? (
          <div data-testid="agent-not-found">
            <EmptyState title="No such agent">
              No agent <span className="break-all font-mono">{agentId}</span> is among the agents you can see.
            </EmptyState>
          </div>
        ) : <ErrorState error={q.error} requiredScope="agents:read" onRetry={() => void q.refetch()} />}
      </>
    );
  }
  const a = q.data;
  if (!a) return <Loading label="Loading the agent" />;
  const gate = (action: "updateAgent" | "decommissionAgent", selfReason: string) => agentChangePermission(session, a, action, selfReason);
  const canEdit = gate("updateAgent", "You cannot change the agent you are signed in as.");
  const run = (op: Lifecycle, done: string) => lifecycle.mutate(op, {
    onSuccess: () => toast.success(done),
    onError: (err) => {
      const p = describeError(err, "agents:write");
      toast.error(p.title, { description: p.detail });
    },
  });

  return (
    <>
      <PageHeader
        title={a.name}
        description={<span className="flex flex-wrap items-center gap-2"><StatusBadge status={a.status} /><span className="font-mono text-xs">{a.agentId}</span></span>}
        actions={
          <>
            <GatedButton variant="outline" permission={canEdit} onClick={() => void navigate(`/agents/${a.agentId}/edit`)} data-testid="edit-agent">
              <Pencil aria-hidden /> Edit
            </GatedButton>
            {a.status === "suspended" ? (
              <GatedButton variant="outline" permission={gate("updateAgent", "You cannot change the status of the agent you are signed in as.")}
                onClick={() => run("reactivate", `${a.name} is active again`)} disabled={lifecycle.isPending} data-testid="reactivate-agent">
                {lifecycle.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Play aria-hidden />} Reactivate
              </GatedButton>
            ) : (
              <GatedButton variant="outline" permission={gate("updateAgent", "You cannot suspend the agent you are signed in as.")}
                onClick={() => run("suspend", `${a.name} is suspended: its tokens stop working`)} disabled={lifecycle.isPending} data-testid="suspend-agent">
                {lifecycle.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Pause aria-hidden />} Suspend
              </GatedButton>
            )}
            <GatedButton variant="destructive" permission={gate("decommissionAgent", "You cannot decommission the agent you are signed in as.")}
              onClick={() => setConfirming(true)} data-testid="decommission-agent">
              <Ban aria-hidden /> Decommission
            </GatedButton>
          </>
        }
      />
      <div className="grid gap-6 2xl:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
        <Card>
          <CardHeader><CardTitle>Details</CardTitle></CardHeader>
          <CardContent>
            <dl className="divide-y">
              <Row label="Agent ID (client ID)"><span className="mr-2 font-mono text-xs">{a.agentId}</span><CopyButton value={a.agentId} what="the agent ID" /></Row>
              <Row label="Owner"><span data-testid="agent-owner">{a.owner || "—"}</span></Row>
              <Row label="Type">{a.agentType || "—"}</Row>
              <Row label="Version">{a.version || "—"}</Row>
              <Row label="Environment">{a.deploymentEnv || "—"}</Row>
              <Row label="Description">{a.description || "—"}</Row>
              <Row label="Scopes">{list(a.scopes)}</Row>
              <Row label="Capabilities">{list(a.capabilities)}</Row>
              <Row label="Metadata">
                {Object.keys(a.metadata).length === 0 ? <span className="text-muted-foreground">none</span> : (
                  <ul className="font-mono text-xs">{Object.entries(a.metadata).map(([k, v]) => <li key={k}>{k}={v}</li>)}</ul>
                )}
              </Row>
              <Row label="Registered">{formatDateTime(a.createdAt)}</Row>
              <Row label="Updated">{formatDateTime(a.updatedAt)}</Row>
              {a.suspendedAt && <Row label="Last suspended">{formatDateTime(a.suspendedAt)}</Row>}
              {a.decommissionedAt && <Row label="Decommissioned">{formatDateTime(a.decommissionedAt)}</Row>}
              <Row label="Audit trail"><Link className="underline underline-offset-4" to={`/audit?agentId=${a.agentId}`}>Events of this agent</Link></Row>
            </dl>
          </CardContent>
        </Card>
        <CredentialsCard agent={a} />
      </div>

      <AlertDialog open={confirming} onOpenChange={setConfirming}>
        <AlertDialogContent>
          <DecommissionForm agent={a} pending={lifecycle.isPending} onConfirm={() => lifecycle.mutate("decommission", {
            onSuccess: () => { setConfirming(false); toast.success(`${a.name} is decommissioned`); void navigate("/agents"); },
            onError: (err) => { const p = describeError(err, "agents:write"); toast.error(p.title, { description: p.detail }); },
          })} />
        </AlertDialogContent>
      </AlertDialog>
    </>
  );
}
