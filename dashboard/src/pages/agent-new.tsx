import { zodResolver } from "@hookform/resolvers/zod";
import { Loader2 } from "lucide-react";
import { useForm } from "react-hook-form";
import { Link, Navigate, useNavigate } from "react-router";
import { toast } from "sonner";

import { AgentFormFields } from "@/components/agent-form-fields";
import { PageHeader } from "@/components/layout";
import { ErrorState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Form } from "@/components/ui/form";
import { useCallerOwner, useRegisterAgent } from "@/hooks/queries";
import { usePermission, usePlatformAdmin, useRequiredSession } from "@/hooks/session";
import { agentFormField, emptyAgentForm, registerAgentForm, toAgentInput } from "@/lib/forms/agent";
import { showFieldViolations } from "@/lib/forms/server";

export function AgentNewPage() {
  const session = useRequiredSession();
  const allowed = usePermission("registerAgent");
  const navigate = useNavigate();
  const register = useRegisterAgent();
  const platform = usePlatformAdmin();
  const callerOwner = useCallerOwner();
  const form = useForm({ resolver: zodResolver(registerAgentForm), defaultValues: emptyAgentForm });

  if (!allowed.allowed) return <Navigate to="/agents" replace />;

  const submit = form.handleSubmit((values) => {
    // An empty owner is the caller's own (the server fills it in); only a
    // platform admin may name another.
    register.mutate(toAgentInput(platform ? values : { ...values, owner: "" }), {
      onSuccess: (a) => {
        toast.success(`Registered ${a.name}`);
        void navigate(`/agents/${a.agentId}`);
      },
      onError: (err) => {
        if (!showFieldViolations(form.setError, err, agentFormField)) form.setError("root.server", { message: "refused" });
      },
    });
  });

  return (
    <>
      <PageHeader title="Register an agent" description={<>New agents are <strong>active</strong>. Give one a credential on its page afterwards.</>} />
      <Card className="max-w-3xl">
        <CardContent className="p-5">
          <Form {...form}>
            <form onSubmit={(e) => void submit(e)} noValidate className="grid gap-5 sm:grid-cols-2" aria-label="Register an agent">
              {form.formState.errors.root?.["server"] && register.isError && (
                <div className="sm:col-span-2"><ErrorState error={register.error} requiredScope="agents:write" /></div>
              )}
              <AgentFormFields platform={platform} fixedOwner={callerOwner ?? ""} held={session.scopes}
                ownerPlaceholder={callerOwner ? `${callerOwner} (yours)` : "yours"}
                ownerHint={platform ? "The tenant it belongs to: a team, a customer. Yours unless you name another." : "Yours: only a platform admin registers agents for another owner."} />
              <div className="flex gap-2 sm:col-span-2">
                <Button type="submit" disabled={register.isPending}>
                  {register.isPending && <Loader2 className="animate-spin" aria-hidden />} Register
                </Button>
                <Button asChild variant="outline"><Link to="/agents">Cancel</Link></Button>
              </div>
            </form>
          </Form>
        </CardContent>
      </Card>
    </>
  );
}
