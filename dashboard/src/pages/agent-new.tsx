import { Loader2 } from "lucide-react";
import { useState, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, useNavigate } from "react-router";
import { toast } from "sonner";

import { PageHeader } from "@/components/layout";
import { ErrorState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { useCallerOwner, useRegisterAgent } from "@/hooks/queries";
import { usePermission, usePlatformAdmin, useRequiredSession } from "@/hooks/session";
import { describeError } from "@/lib/errors";
import { SCOPES } from "@/lib/scopes";
import { emptyAgentForm, formFieldOf, toAgentInput, validateAgentForm, type AgentForm, type FieldErrors } from "@/lib/validation";

function Field({ id, label, hint, error, required, children }: { id: string; label: string; hint?: string; error?: string | undefined; required?: boolean; children: ReactNode }) {
  return (
    <div className="space-y-1.5">
      <Label htmlFor={id}>{label}{required && <span aria-hidden className="text-destructive"> *</span>}</Label>
      {children}
      {hint && !error && <p id={`${id}-hint`} className="text-xs text-muted-foreground">{hint}</p>}
      {error && <p id={`${id}-error`} className="text-xs font-medium text-red-700 dark:text-red-300">{error}</p>}
    </div>
  );
}

export function AgentNewPage() {
  const session = useRequiredSession();
  const allowed = usePermission("registerAgent");
  const navigate = useNavigate();
  const register = useRegisterAgent();
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  // An empty owner is the caller's own (the server fills it in); only a
  // platform admin may name another.
  const [form, setForm] = useState<AgentForm>(emptyAgentForm);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [submitted, setSubmitted] = useState(false);

  if (!allowed.allowed) return <Navigate to="/agents" replace />;

  const update = <K extends keyof AgentForm>(k: K, v: AgentForm[K]) => {
    const next = { ...form, [k]: v };
    setForm(next);
    if (submitted) setErrors(validateAgentForm(next));
  };
  const aria = (k: keyof AgentForm) => ({
    "aria-invalid": errors[k] ? true : undefined,
    "aria-describedby": errors[k] ? `agent-${k}-error` : `agent-${k}-hint`,
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    const errs = validateAgentForm(form);
    setErrors(errs);
    const firstBad = Object.keys(errs)[0];
    if (firstBad) {
      document.getElementById(`agent-${firstBad}`)?.focus();
      return;
    }
    // Anyone but a platform admin registers for its own owner, which the
    // server gives an agent registered without one.
    register.mutate(toAgentInput(platform ? form : { ...form, owner: "" }), {
      onSuccess: (a) => {
        toast.success(`Registered ${a.name}`);
        void navigate(`/agents/${a.agentId}`);
      },
      onError: (err) => {
        const p = describeError(err, "agents:write");
        const field = formFieldOf(p.field);
        if (field) {
          setErrors((x) => ({ ...x, [field]: p.detail }));
          document.getElementById(`agent-${field}`)?.focus();
        }
      },
    });
  };

  return (
    <>
      <PageHeader title="Register an agent" description={<>New agents are <strong>active</strong>. Give one a credential on its page afterwards.</>} />
      <Card className="max-w-3xl">
        <CardContent className="p-5">
          <form onSubmit={submit} noValidate className="grid gap-5 sm:grid-cols-2" aria-label="Register an agent">
            {register.isError && !formFieldOf(describeError(register.error).field) && (
              <div className="sm:col-span-2"><ErrorState error={register.error} requiredScope="agents:write" /></div>
            )}
            <Field id="agent-name" label="Name" required error={errors.name} hint="Up to 128 characters, e.g. invoice-bot.">
              <Input id="agent-name" value={form.name} onChange={(e) => update("name", e.target.value)} {...aria("name")} autoFocus />
            </Field>
            <Field id="agent-owner" label="Owner" error={errors.owner}
              hint={platform ? "The tenant it belongs to: a team, a customer. Yours unless you name another." : "Yours: only a platform admin registers agents for another owner."}>
              {platform ? (
                <Input id="agent-owner" value={form.owner} placeholder={callerOwner ? `${callerOwner} (yours)` : "yours"}
                  onChange={(e) => update("owner", e.target.value)} {...aria("owner")} />
              ) : (
                <Input id="agent-owner" value={callerOwner ?? ""} readOnly aria-readonly="true" className="bg-muted font-mono text-xs" {...aria("owner")} />
              )}
            </Field>
            <Field id="agent-agentType" label="Type" error={errors.agentType} hint="Lower-case, e.g. assistant; default custom.">
              <Input id="agent-agentType" value={form.agentType} onChange={(e) => update("agentType", e.target.value)} {...aria("agentType")} />
            </Field>
            <Field id="agent-version" label="Version" error={errors.version} hint="e.g. 1.2.0">
              <Input id="agent-version" value={form.version} onChange={(e) => update("version", e.target.value)} {...aria("version")} />
            </Field>
            <Field id="agent-deploymentEnv" label="Deployment environment" error={errors.deploymentEnv} hint="e.g. production">
              <Input id="agent-deploymentEnv" value={form.deploymentEnv} onChange={(e) => update("deploymentEnv", e.target.value)} {...aria("deploymentEnv")} />
            </Field>
            <Field id="agent-capabilities" label="Capabilities" error={errors.capabilities} hint="Separated by spaces or commas, e.g. invoices.read web.search">
              <Input id="agent-capabilities" value={form.capabilities} onChange={(e) => update("capabilities", e.target.value)} {...aria("capabilities")} />
            </Field>
            <div className="sm:col-span-2">
              <Field id="agent-description" label="Description" error={errors.description} hint="Up to 1024 characters.">
                <Textarea id="agent-description" value={form.description} onChange={(e) => update("description", e.target.value)} {...aria("description")} />
              </Field>
            </div>
            <fieldset className="space-y-2 sm:col-span-2" aria-describedby="agent-scopes-hint">
              <legend className="text-sm font-medium">Scopes</legend>
              <p id="agent-scopes-hint" className="text-xs text-muted-foreground">
                What the agent's tokens may carry. You can only grant scopes your own token holds.
              </p>
              <div className="grid gap-2 sm:grid-cols-2">
                {SCOPES.map((s) => {
                  const held = session.scopes.has(s);
                  return (
                    <label key={s} className="flex items-center gap-2 text-sm" title={held ? undefined : "You do not hold this scope, so you cannot grant it"}>
                      <input type="checkbox" className="h-4 w-4 accent-primary" id={`scope-${s}`} value={s} disabled={!held}
                        checked={form.scopes.includes(s)}
                        onChange={(e) => update("scopes", e.target.checked ? [...form.scopes, s] : form.scopes.filter((x) => x !== s))} />
                      <span className="font-mono">{s}</span>
                      {!held && <span className="text-xs text-muted-foreground">(you do not hold it)</span>}
                    </label>
                  );
                })}
              </div>
              {errors.scopes && <p className="text-xs font-medium text-red-700 dark:text-red-300">{errors.scopes}</p>}
            </fieldset>
            <div className="sm:col-span-2">
              <Field id="agent-metadata" label="Metadata" error={errors.metadata} hint="One key=value per line, e.g. cost-center=42">
                <Textarea id="agent-metadata" className="font-mono" rows={3} value={form.metadata} onChange={(e) => update("metadata", e.target.value)} {...aria("metadata")} />
              </Field>
            </div>
            <div className="flex gap-2 sm:col-span-2">
              <Button type="submit" disabled={register.isPending}>
                {register.isPending && <Loader2 className="animate-spin" aria-hidden />} Register
              </Button>
              <Button asChild variant="outline"><Link to="/agents">Cancel</Link></Button>
            </div>
          </form>
        </CardContent>
      </Card>
    </>
  );
}
