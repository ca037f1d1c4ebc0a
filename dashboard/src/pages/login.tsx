import { AgentIdPError } from "@sentryagent/idp-sdk";
import { KeyRound, Loader2, ShieldCheck } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";

import { ThemeMenu } from "@/components/layout";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useSession, useSessionManager } from "@/hooks/session";
import { describeError } from "@/lib/errors";

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
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/";

  if (session && !busy) return <Navigate to={from} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!clientId.trim() || !secret) {
      setError("Enter the agent's client ID and its client secret.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await manager.signIn(clientId.trim(), secret);
      setSecret("");
      void navigate(from, { replace: true });
    } catch (err) {
      setError(signInMessage(err));
    } finally {
      setBusy(false);
    }
  };

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
              <div className="space-y-2">
                <Label htmlFor="client-id">Client ID</Label>
                <Input id="client-id" name="username" autoComplete="username" spellCheck={false} placeholder="the agent's id (a UUID)"
                  value={clientId} onChange={(e) => setClientId(e.target.value)} autoFocus required />
              </div>
              <div className="space-y-2">
                <Label htmlFor="client-secret">Client secret</Label>
                <Input id="client-secret" name="password" type="password" autoComplete="current-password" spellCheck={false}
                  placeholder="agentidp_sk_…" value={secret} onChange={(e) => setSecret(e.target.value)} required />
              </div>
              <Button type="submit" className="w-full" disabled={busy}>
                {busy ? <Loader2 className="animate-spin" aria-hidden /> : <KeyRound aria-hidden />}
                {busy ? "Signing in…" : "Sign in"}
              </Button>
              <p className="text-xs text-muted-foreground">
                The secret stays in this page's memory and is never stored. The access token is kept for this tab only and
                cleared when you sign out.
              </p>
            </form>
          </CardContent>
        </Card>
      </main>
    </div>
  );
}
