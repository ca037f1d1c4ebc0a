import { zodResolver } from "@hookform/resolvers/zod";
import { AgentIdPError } from "@sentryagent/idp-sdk";
import { KeyRound, Loader2, ShieldCheck } from "lucide-react";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Navigate, useLocation, useNavigate } from "react-router";
import * as z from "zod/mini";

import { ThemeMenu } from "@/components/layout";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader } from "@/components/ui/card";
import { Form, FormControl, FormField, FormItem, FormLabel, FormMessage } from "@/components/ui/form";
import { Input } from "@/components/ui/input";
import { useSession, useSessionManager } from "@/hooks/session";
import { describeError } from "@/lib/errors";
import { trimSpace } from "@/lib/rules/rule";

/**
 * Both are needed; what they must be is the token endpoint's to say (an
 * OAuth error names no field, so a refusal shows above the form).
 */
const signInForm = z.object({
  clientId: z.string().check(z.overwrite(trimSpace), z.minLength(1, "Enter the agent's client ID.")),
  secret: z.string().check(z.minLength(1, "Enter the agent's client secret.")),
});

/** What a refused sign-in means, in the user's terms. */
export function signInMessage(e: unknown): string {
  if (e instanceof AgentIdPError) {
    if (e.code === "invalid_client" || e.httpStatus === 401) return "The client ID or secret is wrong, or the agent is not active.";
    if (e.code === "invalid_scope") return "The agent holds no scope the dashboard can use.";
  }
  const p = describeError(e);
  return `${p.title}: ${p.detail}`;
}

export function LoginPage() {
  const manager = useSessionManager();
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [notice] = useState(() => manager.takeNotice());
  const [error, setError] = useState<string>();
  const form = useForm({ resolver: zodResolver(signInForm), defaultValues: { clientId: "", secret: "" } });
  const busy = form.formState.isSubmitting;
  const from = (location.state as { from?: string } | null)?.from ?? "/";

  if (session && !busy) return <Navigate to={from} replace />;

  const submit = form.handleSubmit(async ({ clientId, secret }) => {
    setError(undefined);
    try {
      await manager.signIn(clientId, secret);
      form.reset(); // the secret leaves the form's state
      void navigate(from, { replace: true });
    } catch (err) {
      setError(signInMessage(err));
    }
  });

  return (
    <div className="flex min-h-screen flex-col bg-muted/40">
      <div className="flex justify-end p-3"><ThemeMenu /></div>
      <main id="main" className="flex flex-1 items-start justify-center p-4 pt-[10vh]">
        <Card className="w-full max-w-md">
          <CardHeader>
            <div className="mb-2 flex items-center gap-2 text-lg font-semibold"><ShieldCheck aria-hidden /> AgentIdP</div>
            <h1 className="text-xl font-semibold leading-none tracking-tight">Sign in</h1>
            <CardDescription>
              Use an agent's client credential. The dashboard acts as that agent: what you can do is what its scopes allow.
            </CardDescription>
          </CardHeader>
          <CardContent>
            <Form {...form}>
              <form onSubmit={(e) => void submit(e)} className="space-y-4" noValidate aria-describedby={error ? "login-error" : undefined}>
                {notice && (
                  <Alert variant="warning"><AlertDescription>{notice}</AlertDescription></Alert>
                )}
                {error && (
                  <Alert variant="destructive" id="login-error" role="alert">
                    <AlertTitle>Could not sign in</AlertTitle>
                    <AlertDescription>{error}</AlertDescription>
                  </Alert>
                )}
                <FormField control={form.control} name="clientId" render={({ field }) => (
                  <FormItem id="client-id" className="space-y-2">
                    <FormLabel>Client ID</FormLabel>
                    <FormControl>
                      <Input {...field} name="username" autoComplete="username" spellCheck={false} placeholder="the agent's id (a UUID)" autoFocus required />
                    </FormControl>
                    <FormMessage />
                  </FormItem>
                )} />
                <FormField control={form.control} name="secret" render={({ field }) => (
                  <FormItem id="client-secret" className="space-y-2">
                    <FormLabel>Client secret</FormLabel>
                    <FormControl>
                      <Input {...field} name="password" type="password" autoComplete="current-password" spellCheck={false} placeholder="agentidp_sk_…" required />
                    </FormControl>
                    <FormMessage />
                  </FormItem>
                )} />
                <Button type="submit" className="w-full" disabled={busy}>
                  {busy ? <Loader2 className="animate-spin" aria-hidden /> : <KeyRound aria-hidden />}
                  {busy ? "Signing in…" : "Sign in"}
                </Button>
                <p className="text-xs text-muted-foreground">
                  The secret stays in this page's memory and is never stored. The access token is kept for this tab only and
                  cleared when you sign out.
                </p>
              </form>
            </Form>
          </CardContent>
        </Card>
      </main>
    </div>
  );
}
