import { AlertTriangle, Inbox, ShieldAlert } from "lucide-react";
import type { ReactNode } from "react";

import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Skeleton } from "@/components/ui/skeleton";
import { TableCell, TableRow } from "@/components/ui/table";
import { describeError } from "@/lib/errors";

/** An API failure as a clear message; a 403 says which scope is missing. */
export function ErrorState({ error, requiredScope, onRetry }: { error: unknown; requiredScope?: string; onRetry?: () => void }) {
  const p = describeError(error, requiredScope);
  const Icon = p.forbidden ? ShieldAlert : AlertTriangle;
  return (
    <Alert variant={p.forbidden ? "warning" : "destructive"} role="alert" data-testid={p.forbidden ? "forbidden" : "error"}>
      <Icon className="h-4 w-4" aria-hidden />
      <AlertTitle>{p.title}</AlertTitle>
      <AlertDescription>
        <p>{p.detail}</p>
        {(p.code || p.requestId) && (
          <p className="mt-1 text-xs opacity-80">
            {p.code && <>Code <code>{p.code}</code></>}
            {p.httpStatus > 0 && <> · HTTP {p.httpStatus}</>}
            {p.requestId && <> · request <code>{p.requestId}</code></>}
          </p>
        )}
        {onRetry && !p.forbidden && (
          <Button variant="outline" size="sm" className="mt-2" onClick={onRetry}>Try again</Button>
        )}
      </AlertDescription>
    </Alert>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="flex flex-col items-center justify-center gap-2 rounded-lg border border-dashed p-8 text-center">
      <Inbox className="h-8 w-8 text-muted-foreground" aria-hidden />
      <p className="font-medium">{title}</p>
      {children && <div className="text-sm text-muted-foreground">{children}</div>}
    </div>
  );
}

/** Placeholder rows while a table loads. */
export function TableSkeleton({ rows = 5, cols }: { rows?: number; cols: number }) {
  return (
    <>
      {Array.from({ length: rows }, (_, r) => (
        <TableRow key={r} aria-hidden>
          {Array.from({ length: cols }, (_, c) => (
            <TableCell key={c}><Skeleton className="h-4 w-full max-w-[10rem]" /></TableCell>
          ))}
        </TableRow>
      ))}
    </>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="space-y-2">
      <span className="sr-only">{label}</span>
      <Skeleton className="h-5 w-1/3" />
      <Skeleton className="h-4 w-2/3" />
      <Skeleton className="h-4 w-1/2" />
    </div>
  );
}
