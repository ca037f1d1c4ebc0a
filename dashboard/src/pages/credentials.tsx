import { zodResolver } from "@hookform/resolvers/zod";
import type { Agent, Credential, IssuedCredential } from "@sentryagent/idp-sdk";
import { KeyRound, Loader2, RotateCw, Trash2 } from "lucide-react";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { toast } from "sonner";

import { GatedButton } from "@/components/gated-button";
import { SecretDialog } from "@/components/secret-dialog";
import { EmptyState, ErrorState, TableSkeleton } from "@/components/states";
import { StatusBadge } from "@/components/status-badge";
import {
  AlertDialog, AlertDialogCancel, AlertDialogContent, AlertDialogDescription, AlertDialogFooter, AlertDialogHeader, AlertDialogTitle,
} from "@/components/ui/alert-dialog";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Form, FormControl, FormDescription, FormField, FormItem, FormLabel, FormMessage } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useCredentials, useGenerateCredential, useRevokeCredential, useRotateCredential } from "@/hooks/queries";
import { useAgentPermission } from "@/hooks/session";
import { describeError } from "@/lib/errors";
import { credentialFormField, generateCredentialForm, rotateCredentialForm } from "@/lib/forms/credentials";
import { showFieldViolations } from "@/lib/forms/server";
import { formatDateTime, relative } from "@/lib/format";
import { MAX_GRACE_SECONDS } from "@/lib/rules/credentials";

const TTLS = [
  { label: "Never expires", seconds: 0 },
  { label: "1 day", seconds: 86_400 },
  { label: "30 days", seconds: 30 * 86_400 },
  { label: "90 days", seconds: 90 * 86_400 },
  { label: "1 year", seconds: 365 * 86_400 },
];

function fail(err: unknown) {
  const p = describeError(err, "credentials:write");
  toast.error(p.title, { description: p.detail });
}

type Issue = (cred: IssuedCredential, title: string) => void;

/** The generate dialog's form: a lifetime from TTLS. */
function GenerateForm({ agent, onIssued, onCancel }: { agent: Agent; onIssued: Issue; onCancel: () => void }) {
  const generate = useGenerateCredential(agent.agentId);
  const form = useForm({ resolver: zodResolver(generateCredentialForm), defaultValues: { ttlSeconds: "0" } });
  const submit = form.handleSubmit(({ ttlSeconds }) => {
    generate.mutate(ttlSeconds || undefined, {
      onSuccess: (c) => {
        onIssued(c, "Credential generated");
        toast.success("Credential generated");
      },
      onError: (err) => { if (!showFieldViolations(form.setError, err, credentialFormField("ttlSeconds"))) fail(err); },
    });
  });
  return (
    <Form {...form}>
      <form onSubmit={(e) => void submit(e)} noValidate className="grid gap-4">
        <DialogHeader>
          <DialogTitle>Generate a credential for {agent.name}</DialogTitle>
          <DialogDescription>A new client secret for this agent. It is shown once, on the next screen.</DialogDescription>
        </DialogHeader>
        <FormField control={form.control} name="ttlSeconds" render={({ field }) => (
          <FormItem id="credential-ttl">
            <FormLabel>Lifetime</FormLabel>
            <FormControl>
              <NativeSelect {...field}>
                {TTLS.map((t) => <option key={t.seconds} value={String(t.seconds)}>{t.label}</option>)}
              </NativeSelect>
            </FormControl>
            <FormMessage />
          </FormItem>
        )} />
        <DialogFooter>
          <Button type="button" variant="outline" onClick={onCancel}>Cancel</Button>
          <Button type="submit" disabled={generate.isPending} data-testid="confirm-generate">
            {generate.isPending && <Loader2 className="animate-spin" aria-hidden />} Generate
          </Button>
        </DialogFooter>
      </form>
    </Form>
  );
}

/** The rotate dialog's form: the grace period, checked as it is typed. */
function RotateForm({ agent, credential, onIssued, onCancel }: { agent: Agent; credential: Credential; onIssued: Issue; onCancel: () => void }) {
  const rotate = useRotateCredential(agent.agentId);
  const form = useForm({ resolver: zodResolver(rotateCredentialForm), defaultValues: { gracePeriodSeconds: "300" }, mode: "onChange" });
  const submit = form.handleSubmit(({ gracePeriodSeconds }) => {
    rotate.mutate({ credentialId: credential.credentialId, gracePeriodSeconds }, {
      onSuccess: (c) => {
        onIssued(c, "Credential rotated");
        toast.success(gracePeriodSeconds > 0 ? `Rotated; the previous secret works for ${gracePeriodSeconds} s more` : "Rotated; the previous secret no longer works");
      },
      onError: (err) => { if (!showFieldViolations(form.setError, err, credentialFormField("gracePeriodSeconds"))) fail(err); },
    });
  });
  return (
    <Form {...form}>
      <form onSubmit={(e) => void submit(e)} className="grid gap-4" noValidate>
        <DialogHeader>
          <DialogTitle>Rotate credential</DialogTitle>
          <DialogDescription>
            A new secret replaces the current one of <span className="font-mono">{credential.credentialId}</span>. During the
            grace period both work, so the agent can switch without downtime.
          </DialogDescription>
        </DialogHeader>
        <FormField control={form.control} name="gracePeriodSeconds" render={({ field }) => (
          <FormItem id="grace-seconds">
            <FormLabel>Grace period (seconds)</FormLabel>
            <FormControl><Input inputMode="numeric" {...field} /></FormControl>
            <FormDescription>0 ends the current secret at once; at most {MAX_GRACE_SECONDS} (one day).</FormDescription>
            <FormMessage />
          </FormItem>
        )} />
        <DialogFooter>
          <Button type="button" variant="outline" onClick={onCancel}>Cancel</Button>
          <Button type="submit" disabled={rotate.isPending} data-testid="confirm-rotate">
            {rotate.isPending && <Loader2 className="animate-spin" aria-hidden />} Rotate
          </Button>
        </DialogFooter>
      </form>
    </Form>
  );
}

export function CredentialsCard({ agent }: { agent: Agent }) {
  const list = useCredentials(agent.agentId);
  const revoke = useRevokeCredential(agent.agentId);
  // The scope each needs and the escalation rule (agents more powerful
  // than the caller's token are out of its reach; an agent rotates its own).
  const canGenerate = useAgentPermission(agent, "generateCredential");
  const canRotate = useAgentPermission(agent, "rotateCredential");
  const canRevoke = useAgentPermission(agent, "revokeCredential");
  const [issued, setIssued] = useState<{ cred: IssuedCredential; title: string }>();
  const [generating, setGenerating] = useState(false);
  const [rotating, setRotating] = useState<Credential>();
  const [revoking, setRevoking] = useState<Credential>();

  const inactive = agent.status !== "active";
  const generatePermission = !canGenerate.allowed ? canGenerate
    : inactive ? { allowed: false as const, reason: `Credentials can only be generated for an active agent; this one is ${agent.status}.` } : canGenerate;
  const decommissioned = agent.status === "decommissioned";
  const issue: Issue = (cred, title) => {
    setGenerating(false);
    setRotating(undefined);
    setIssued({ cred, title });
  };

  return (
    <Card>
      <CardHeader className="flex flex-row items-start justify-between gap-4 space-y-0">
        <div className="space-y-1.5">
          <CardTitle>Credentials</CardTitle>
          <CardDescription>Client credentials of this agent (metadata only: secrets are shown once, when generated or rotated).</CardDescription>
        </div>
        <GatedButton permission={generatePermission} onClick={() => setGenerating(true)} data-testid="generate-credential">
          <KeyRound aria-hidden /> Generate
        </GatedButton>
      </CardHeader>
      <CardContent>
        {list.isError ? (
          <ErrorState error={list.error} requiredScope="agents:read" onRetry={() => void list.refetch()} />
        ) : list.data?.length === 0 ? (
          <EmptyState title="No credentials">{generatePermission.allowed ? "Generate one to let the agent get tokens." : null}</EmptyState>
        ) : (
          <Table data-testid="credentials-table">
            <TableHeader>
              <TableRow>
                <TableHead>Credential</TableHead>
                <TableHead>Status</TableHead>
                <TableHead>Secret version</TableHead>
                <TableHead>Created</TableHead>
                <TableHead>Expires</TableHead>
                <TableHead>Last used</TableHead>
                <TableHead><span className="sr-only">Actions</span></TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {!list.data ? <TableSkeleton cols={7} rows={2} /> : list.data.map((c) => (
                <TableRow key={c.credentialId} data-credential={c.credentialId}>
                  <TableCell><span className="font-mono text-xs">{c.credentialId}</span><div className="text-xs text-muted-foreground">{c.storage}</div></TableCell>
                  <TableCell><StatusBadge status={c.status} /></TableCell>
                  <TableCell>
                    v{c.secretVersion}
                    {c.previousSecretExpiresAt && c.previousSecretExpiresAt > new Date() && (
                      <div className="text-xs text-muted-foreground" data-testid="grace">previous works until {formatDateTime(c.previousSecretExpiresAt)}</div>
                    )}
                  </TableCell>
                  <TableCell className="whitespace-nowrap text-muted-foreground">{formatDateTime(c.createdAt)}</TableCell>
                  <TableCell className="whitespace-nowrap text-muted-foreground">{c.expiresAt ? formatDateTime(c.expiresAt) : "never"}</TableCell>
                  <TableCell className="whitespace-nowrap text-muted-foreground">{c.lastUsedAt ? relative(c.lastUsedAt) : "never"}</TableCell>
                  <TableCell>
                    <div className="flex justify-end gap-2">
                      <GatedButton size="sm" variant="outline" permission={canRotate.allowed && (c.status !== "active" || decommissioned)
                        ? { allowed: false, reason: decommissioned ? "The agent is decommissioned." : `Only an active credential can be rotated; this one is ${c.status}.` } : canRotate}
                        onClick={() => setRotating(c)} aria-label={`Rotate credential ${c.credentialId}`} data-testid="rotate-credential">
                        <RotateCw aria-hidden /> Rotate
                      </GatedButton>
                      <GatedButton size="sm" variant="outline" permission={canRevoke.allowed && c.status === "revoked"
                        ? { allowed: false, reason: "Already revoked." } : canRevoke}
                        onClick={() => setRevoking(c)} aria-label={`Revoke credential ${c.credentialId}`} data-testid="revoke-credential">
                        <Trash2 aria-hidden /> Revoke
                      </GatedButton>
                    </div>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>

      <Dialog open={generating} onOpenChange={setGenerating}>
        <DialogContent>
          <GenerateForm agent={agent} onIssued={issue} onCancel={() => setGenerating(false)} />
        </DialogContent>
      </Dialog>

      <Dialog open={!!rotating} onOpenChange={(o) => { if (!o) setRotating(undefined); }}>
        <DialogContent>
          {rotating && <RotateForm agent={agent} credential={rotating} onIssued={issue} onCancel={() => setRotating(undefined)} />}
        </DialogContent>
      </Dialog>

      <AlertDialog open={!!revoking} onOpenChange={(o) => { if (!o) setRevoking(undefined); }}>
        <AlertDialogContent>
          <AlertDialogHeader>
            <AlertDialogTitle>Revoke this credential of {agent.name}?</AlertDialogTitle>
            <AlertDialogDescription>
              Credential <span className="font-mono">{revoking?.credentialId}</span> stops working at once, and so do the tokens
              issued with it. This cannot be undone.
            </AlertDialogDescription>
          </AlertDialogHeader>
          <AlertDialogFooter>
            <AlertDialogCancel>Cancel</AlertDialogCancel>
            <Button variant="destructive" disabled={revoke.isPending} data-testid="confirm-revoke"
              onClick={() => revoking && revoke.mutate(revoking.credentialId, {
                onSuccess: () => { setRevoking(undefined); toast.success("Credential revoked"); },
                onError: fail,
              })}>
              {revoke.isPending && <Loader2 className="animate-spin" aria-hidden />} Revoke
            </Button>
          </AlertDialogFooter>
        </AlertDialogContent>
      </AlertDialog>

      <SecretDialog issued={issued?.cred} title={issued?.title ?? ""} onClose={() => setIssued(undefined)} />
    </Card>
  );
}
