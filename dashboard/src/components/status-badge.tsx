import { Badge } from "@/components/ui/badge";

const variants: Record<string, "success" | "warning" | "destructive" | "secondary"> = {
  active: "success", suspended: "warning", decommissioned: "secondary",
  revoked: "destructive", expired: "secondary",
  success: "success", failure: "destructive", denied: "warning",
  SERVING: "success", NOT_SERVING: "destructive", UNREACHABLE: "destructive",
  reachable: "success", unreachable: "destructive", unknown: "secondary",
  ready: "success", not_ready: "destructive",
};

/** A status word in a colour that matches its meaning (the word itself carries it for colour-blind readers). */
export function StatusBadge({ status }: { status: string }) {
  return <Badge variant={variants[status] ?? "secondary"} data-status={status}>{status.replace(/_/g, " ").toLowerCase()}</Badge>;
}
