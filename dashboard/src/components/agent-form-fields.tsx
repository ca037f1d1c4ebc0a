import { useFormContext } from "react-hook-form";

import { FormControl, FormDescription, FormField, FormItem, FormLabel, FormMessage, useDescribedBy } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { Textarea } from "@/components/ui/textarea";
import type { AgentFormValues } from "@/lib/forms/agent";
import { SCOPES } from "@/lib/scopes";

const Required = () => <span aria-hidden className="text-destructive"> *</span>;

function TextField({ name, label, hint, required, area, className }: {
  name: "name" | "agentType" | "version" | "deploymentEnv" | "capabilities" | "description" | "metadata";
  label: string; hint: string; required?: boolean; area?: boolean; className?: string;
}) {
  const { control } = useFormContext<AgentFormValues>();
  return (
    <FormField control={control} name={name} render={({ field }) => (
      <FormItem id={`agent-${name}`} className={className}>
        <FormLabel>{label}{required && <Required />}</FormLabel>
        <FormControl>
          {area ? <Textarea {...field} rows={name === "metadata" ? 3 : undefined} className={name === "metadata" ? "font-mono" : undefined} />
            : <Input {...field} autoFocus={name === "name"} />}
        </FormControl>
        <FormDescription>{hint}</FormDescription>
        <FormMessage />
      </FormItem>
    )} />
  );
}

function ScopesField({ held }: { held: ReadonlySet<string> }) {
  const { control } = useFormContext<AgentFormValues>();
  return (
    <FormField control={control} name="scopes" render={({ field }) => (
      <FormItem id="agent-scopes" className="sm:col-span-2">
        <ScopesFieldset held={held} value={field.value} onChange={field.onChange} inputRef={field.ref} />
      </FormItem>
    )} />
  );
}

function ScopesFieldset({ held, value, onChange, inputRef }: {
  held: ReadonlySet<string>; value: string[]; onChange: (v: string[]) => void; inputRef: (el: HTMLInputElement | null) => void;
}) {
  const describedBy = useDescribedBy();
  const firstHeld = SCOPES.find((s) => held.has(s));
  return (
    <fieldset className="space-y-2" aria-describedby={describedBy}>
      <legend className="text-sm font-medium">Scopes</legend>
      <FormDescription>What the agent's tokens may carry. You can only grant scopes your own token holds.</FormDescription>
      <div className="grid gap-2 sm:grid-cols-2">
        {SCOPES.map((s) => {
          const mine = held.has(s);
          return (
            <label key={s} className="flex items-center gap-2 text-sm" title={mine ? undefined : "You do not hold this scope, so you cannot grant it"}>
              <input type="checkbox" className="h-4 w-4 accent-primary" id={`scope-${s}`} value={s} disabled={!mine}
                ref={s === firstHeld ? inputRef : undefined} checked={value.includes(s)}
                onChange={(e) => onChange(e.target.checked ? [...value, s] : value.filter((x) => x !== s))} />
              <span className="font-mono">{s}</span>
              {!mine && <span className="text-xs text-muted-foreground">(you do not hold it)</span>}
            </label>
          );
        })}
      </div>
      <FormMessage />
    </fieldset>
  );
}

/**
 * The fields of an agent, shared by the register and edit forms (inside a
 * <Form> of AgentFormValues). The owner is editable only by a platform
 * admin; anyone else sees `fixedOwner`, and the form leaves it unchanged.
 */
export function AgentFormFields({ platform, fixedOwner, ownerPlaceholder, ownerHint, held }: {
  platform: boolean; fixedOwner: string; ownerPlaceholder?: string | undefined; ownerHint: string; held: ReadonlySet<string>;
}) {
  const { control } = useFormContext<AgentFormValues>();
  return (
    <>
      <TextField name="name" label="Name" required hint="Up to 128 characters, e.g. invoice-bot." />
      <FormField control={control} name="owner" render={({ field }) => (
        <FormItem id="agent-owner">
          <FormLabel>Owner</FormLabel>
          <FormControl>
            {platform ? <Input {...field} placeholder={ownerPlaceholder} />
              : <Input ref={field.ref} name={field.name} value={fixedOwner} readOnly aria-readonly="true" className="bg-muted font-mono text-xs" />}
          </FormControl>
          <FormDescription>{ownerHint}</FormDescription>
          <FormMessage />
        </FormItem>
      )} />
      <TextField name="agentType" label="Type" hint="Lower-case, e.g. assistant; default custom." />
      <TextField name="version" label="Version" hint="e.g. 1.2.0" />
      <TextField name="deploymentEnv" label="Deployment environment" hint="e.g. production" />
      <TextField name="capabilities" label="Capabilities" hint="Separated by spaces or commas, e.g. invoices.read web.search" />
      <TextField name="description" label="Description" area hint="Up to 1024 characters." className="sm:col-span-2" />
      <ScopesField held={held} />
      <TextField name="metadata" label="Metadata" area hint="One key=value per line, e.g. cost-center=42" className="sm:col-span-2" />
    </>
  );
}
