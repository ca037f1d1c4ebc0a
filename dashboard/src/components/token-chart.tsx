import { useMemo, useState } from "react";

import { NativeSelect } from "@/components/ui/native-select";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { ErrorState } from "@/components/states";
import { Skeleton } from "@/components/ui/skeleton";
import { ACTIVITY_CAP, useTokenActivity } from "@/hooks/queries";
import { usePermission } from "@/hooks/session";
import { RANGES, bucketize, type Bucket, type Range } from "@/lib/activity";
import { formatDay, formatTime } from "@/lib/format";

const W = 640;
const H = 180;
const PAD = { l: 36, r: 8, t: 8, b: 24 };

function label(b: Bucket, range: Range): string {
  return range.bucketMs >= 86_400_000 ? formatDay(b.start) : formatTime(b.start);
}

/** Bars of tokens issued and denied per time bucket, from the audit log. */
export function TokenChart() {
  const [key, setKey] = useState<Range["key"]>("1h");
  const range = RANGES.find((r) => r.key === key) ?? RANGES[0]!;
  const allowed = usePermission("readAudit");
  const q = useTokenActivity(range, allowed.allowed);
  const buckets = useMemo(() => (q.data ? bucketize(q.data.events, range, q.data.now) : []), [q.data, range]);
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.issued, b.denied)));
  const total = buckets.reduce((a, b) => ({ issued: a.issued + b.issued, denied: a.denied + b.denied }), { issued: 0, denied: 0 });
  const innerW = W - PAD.l - PAD.r;
  const innerH = H - PAD.t - PAD.b;
  const slot = innerW / Math.max(1, buckets.length);
  const bar = Math.max(2, slot / 2 - 2);
  const y = (v: number) => PAD.t + innerH - (v / max) * innerH;
  const every = Math.ceil(buckets.length / 6);

  return (
    <Card>
      <CardHeader className="flex flex-row items-start justify-between gap-4 space-y-0">
        <div className="space-y-1.5">
          <CardTitle>Tokens issued and denied</CardTitle>
          <CardDescription>
            From the audit log (token.issued; token.denied and authz.denied).
            {q.data && <> {total.issued} issued, {total.denied} denied.</>}
          </CardDescription>
        </div>
        <div className="w-40 shrink-0">
          <label htmlFor="activity-range" className="sr-only">Time range</label>
          <NativeSelect id="activity-range" value={key} onChange={(e) => setKey(e.target.value as Range["key"])}>
            {RANGES.map((r) => <option key={r.key} value={r.key}>{r.label}</option>)}
          </NativeSelect>
        </div>
      </CardHeader>
      <CardContent>
        {!allowed.allowed ? (
          <p className="text-sm text-muted-foreground">{allowed.reason} The chart reads the audit log.</p>
        ) : q.isError ? (
          <ErrorState error={q.error} requiredScope="audit:read" onRetry={() => void q.refetch()} />
        ) : !q.data ? (
          <Skeleton className="h-[180px] w-full" role="status" aria-label="Loading the chart" />
        ) : (
          <figure>
            <svg viewBox={`0 0 ${W} ${H}`} className="h-auto w-full" role="img" aria-labelledby="chart-title chart-desc">
              <title id="chart-title">Tokens issued and denied, {range.label.toLowerCase()}</title>
              <desc id="chart-desc">{total.issued} tokens issued and {total.denied} denied; the table below lists each interval.</desc>
              {[0, 0.5, 1].map((f) => (
                <g key={f}>
                  <line x1={PAD.l} x2={W - PAD.r} y1={y(max * f)} y2={y(max * f)} className="stroke-border" strokeDasharray={f === 0 ? undefined : "3 3"} />
                  <text x={PAD.l - 6} y={y(max * f) + 4} textAnchor="end" className="fill-muted-foreground text-[10px]">{Math.round(max * f)}</text>
                </g>
              ))}
              {buckets.map((b, i) => {
                const x = PAD.l + i * slot + slot / 2;
                return (
                  <g key={b.start.getTime()}>
                    <rect x={x - bar - 1} y={y(b.issued)} width={bar} height={PAD.t + innerH - y(b.issued)} className="fill-chart-issued" rx={1}>
                      <title>{`${label(b, range)}: ${b.issued} issued`}</title>
                    </rect>
                    <rect x={x + 1} y={y(b.denied)} width={bar} height={PAD.t + innerH - y(b.denied)} className="fill-chart-denied" rx={1}>
                      <title>{`${label(b, range)}: ${b.denied} denied`}</title>
                    </rect>
                    {i % every === 0 && (
                      <text x={x} y={H - 6} textAnchor="middle" className="fill-muted-foreground text-[10px]">{label(b, range)}</text>
                    )}
                  </g>
                );
              })}
            </svg>
            <figcaption className="mt-2 flex flex-wrap items-center gap-4 text-xs text-muted-foreground">
              <span className="flex items-center gap-1.5"><span className="inline-block h-2.5 w-2.5 rounded-sm bg-chart-issued" aria-hidden />Issued</span>
              <span className="flex items-center gap-1.5"><span className="inline-block h-2.5 w-2.5 rounded-sm bg-chart-denied" aria-hidden />Denied</span>
              {q.data.capped && <span>Showing the newest {ACTIVITY_CAP} events per action.</span>}
            </figcaption>
            <table className="sr-only">
              <caption>Tokens per interval</caption>
              <thead><tr><th scope="col">Interval start</th><th scope="col">Issued</th><th scope="col">Denied</th></tr></thead>
              <tbody>
                {buckets.map((b) => <tr key={b.start.getTime()}><td>{label(b, range)}</td><td>{b.issued}</td><td>{b.denied}</td></tr>)}
              </tbody>
            </table>
          </figure>
        )}
      </CardContent>
    </Card>
  );
}
