import type { IssuedCredential } from "@sentryagent/idp-sdk";
import { AlertTriangle } from "lucide-react";
import { useState } from "react";

import { CopyButton } from "@/components/copy-button";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

/**
 * Shows a new client secret once. It cannot be dismissed (Escape, a click
 * outside) until the user confirms they stored it; closing forgets it.
 */
export function SecretDialog({ issued, title, onClose }: { issued: IssuedCredential | undefined; title: string; onClose: () => void }) {
  const [stored, setStored] = useState(false);
  const close = () => {
    setStored(false);
    onClose();
  };
  const guard = (e: Event) => {
    if (!stored) e.preventDefault();
  };
  return (
    <Dialog open={!!issued} onOpenChange={(open) => { if (!open && stored) close(); }}>
      <DialogContent hideClose onEscapeKeyDown={guard} onPointerDownOutside={guard} onInteractOutside={guard} data-testid="secret-dialog">
        <DialogHeader>
          <DialogTitle>{title}</DialogTitle>
          <DialogDescription>Store the secret in your secret manager now.</DialogDescription>
        </DialogHeader>
        {issued && (
          <div className="space-y-4">
            <Alert variant="warning">
              <AlertTriangle className="h-4 w-4" aria-hidden />
              <AlertTitle>This is the only time the secret is shown</AlertTitle>
              <AlertDescription>AgentIdP keeps no readable copy. If you lose it, rotate the credential to get a new one.</AlertDescription>
            </Alert>
            <div className="space-y-1.5">
              <Label htmlFor="issued-client-id">Client ID</Label>
              <div className="flex gap-2">
                <Input id="issued-client-id" readOnly value={issued.clientId} className="font-mono text-xs" />
                <CopyButton value={issued.clientId} what="the client ID" />
              </div>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor="issued-secret">Client secret</Label>
              <div className="flex gap-2">
                <Input id="issued-secret" readOnly value={issued.clientSecret.reveal()} className="font-mono text-xs" data-testid="issued-secret"
                  onFocus={(e) => e.currentTarget.select()} />
                <CopyButton value={issued.clientSecret.reveal()} what="the client secret" data-testid="copy-secret" />
              </div>
            </div>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" className="h-4 w-4 accent-primary" checked={stored} onChange={(e) => setStored(e.target.checked)} data-testid="secret-stored" />
              I have stored the secret
            </label>
          </div>
        )}
        <DialogFooter>
          <Button onClick={close} disabled={!stored} data-testid="secret-done">Done</Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
