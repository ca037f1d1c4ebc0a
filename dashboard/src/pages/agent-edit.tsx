import type { Agent } from "@sentryagent/idp-sdk";
import { zodResolver } from "@hookform/resolvers/zod";
import { Loader2 } from "lucide-react";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Link, useNavigate, useParams } from "react-router";
import { toast } from "sonner";

import { AgentFormFields } from "@/components/agent-form-fields";
import { PageHeader } from "@/components/layout";
import { EmptyState, ErrorState, Loading } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Form } from "@/components/ui/form";
import { useAgent, useUpdateAgent } from "@/hooks/queries";
import { usePlatformAdmin, useRequiredSession } from "@/hooks/session";
import { isNotFound } from "@/lib/errors";
import { agentFormField, agentFormValues, editAgentForm, toAgentChanges } from "@/lib/forms/agent";
import { showFieldViolations } from "@/lib/forms/server";
import { agentChangePermission } from "@/lib/scopes";

function EditForm(props: { agent: Agent }) {
  // The version the form started from, whatever a refetch brings meanwhile.
  const [agent] = useState(props.agent);
  const session = useRequiredSession();
  const platform = usePlatformAdmin();
  const navigate = useNavigate();
  const update = useUpdateAgent(agent.agentId);
  const form = useForm({ resolver: zodResolver(editAgentForm), defaultValues: agentFormValues(agent) });
  const back = `/agents/${agent.agentId}`;

  const submit = form.handleSubmit((values) => {
    const changes = toAgentChanges(values, agent);
    if (Object.keys(changes).length === 0) {
      toast.info("Nothing changed");
      void navigate(back);
      return;
    }
    // Conditional on the version the form started from: a change made
    // meanwhile by someone else is refused (ETAG_MISMATCH), not overwritten.
    update.mutate({ changes, etag: agent.etag }, {
      onSuccess: (a) => {
        toast.success(`Saved ${a.name}`);
        void navigate(back);
      },
      onError: (err) => {
        if (!showFieldViolations(form.setError, err, agentFormField)) form.setError("root.server", { message: "refused" });
      },
    });
  });

  return (
    <Form {...form}>
      <form onSubmit={(e) => void submit(e)} noValidate className="grid gap-5 sm:grid-cols-2" aria-label={`Edit ${agent.name}`}>
        {form.formState.errors.root?.["server"] && update.isError && (
          <div className="sm:col-span-2"><ErrorState error={update.error} requiredScope="agents:write" /></div>
        )}
        <AgentFormFields platform={platform} fixedOwner={agent.owner} held={session.scopes}
          ownerHint={platform ? "The tenant it belongs to. Moving it to another owner takes it out of that owner's hands." : "Only a platform admin moves an agent to another owner."} />
        <div className="flex gap-2 sm:col-span-2">
          <Button type="submit" disabled={update.isPending} data-testid="save-agent">
            {update.isPending && <Loader2 className="animate-spin" aria-hidden />} Save
          </Button>
          <Button asChild variant="outline"><Link to={back}>Cancel</Link></Button>
        </div>
      </form>
    </Form>
  );
}

export function AgentEditPage() {
  const { agentId = "" } = useParams();
  const session = useRequiredSession();
  const q = useAgent(agentId);
  const a = q.data;
  const title = a ? `Edit ${a.name}` : "Edit agent";
  const back = <Link to={`/agents/${agentId}`} className="underline">Back to the agent</Link>;

  if (q.isError) {
    return (
      <>
        <PageHeader title={isNotFound(q.error) ? "Agent not found" : title} description={<Link to="/agents" className="underline">Back to agents</Link>} />
        {isNotFound(q.error) ? <EmptyState title="No such agent">No agent <span className="break-all font-mono">{agentId}</span> is among the agents you can see.</EmptyState>
          : <ErrorState error={q.error} requiredScope="agents:read" onRetry={() => void q.refetch()} />}
      </>
    );
  }
  if (!a) return <Loading label="Loading the agent" />;
  const allowed = agentChangePermission(session, a, "updateAgent", "You cannot change the agent you are signed in as.");
  return (
    <>
      <PageHeader title={title} description={back} />
      <Card className="max-w-3xl">
        <CardContent className="p-5">
          {allowed.allowed ? <EditForm key={a.agentId} agent={a} /> : <EmptyState title="You cannot edit this agent">{allowed.reason}</EmptyState>}
        </CardContent>
      </Card>
    </>
  );
}
