import { ChevronLeft, ChevronRight } from "lucide-react";
import { useCallback, useState } from "react";

import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/native-select";

/** Cursor pagination: the API gives the next page's token; going back pops the tokens seen. */
export function useCursor(resetKey: string) {
  const [state, setState] = useState<{ key: string; tokens: string[] }>({ key: resetKey, tokens: [""] });
  const tokens = state.key === resetKey ? state.tokens : [""];
  if (state.key !== resetKey) setState({ key: resetKey, tokens: [""] });
  const next = useCallback((t: string) => setState((s) => ({ key: resetKey, tokens: [...(s.key === resetKey ? s.tokens : [""]), t] })), [resetKey]);
  const prev = useCallback(() => setState((s) => ({ key: resetKey, tokens: s.tokens.length > 1 ? s.tokens.slice(0, -1) : [""] })), [resetKey]);
  return { token: tokens[tokens.length - 1] ?? "", index: tokens.length - 1, next, prev };
}

export function Pager({ index, nextToken, onNext, onPrev, pageSize, onPageSize, busy, label }: {
  index: number;
  nextToken: string | undefined;
  onNext: (t: string) => void;
  onPrev: () => void;
  pageSize: number;
  onPageSize: (n: number) => void;
  busy?: boolean;
  label: string;
}) {
  return (
    <nav className="flex flex-wrap items-center justify-between gap-3 pt-3" aria-label={`${label} pages`}>
      <div className="flex items-center gap-2 text-sm text-muted-foreground">
        <label htmlFor={`${label}-page-size`}>Rows per page</label>
        <NativeSelect id={`${label}-page-size`} className="h-8 w-20" value={pageSize} onChange={(e) => onPageSize(Number(e.target.value))}>
          {[10, 20, 50, 100].map((n) => <option key={n} value={n}>{n}</option>)}
        </NativeSelect>
      </div>
      <div className="flex items-center gap-2">
        <span className="text-sm text-muted-foreground" aria-live="polite">Page {index + 1}</span>
        <Button variant="outline" size="sm" onClick={onPrev} disabled={index === 0 || busy} aria-label="Previous page">
          <ChevronLeft aria-hidden /> Previous
        </Button>
        <Button variant="outline" size="sm" onClick={() => nextToken && onNext(nextToken)} disabled={!nextToken || busy} aria-label="Next page">
          Next <ChevronRight aria-hidden />
        </Button>
      </div>
    </nav>
  );
}
