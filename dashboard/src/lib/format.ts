const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const tf = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const df = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function formatDateTime(d: Date | undefined): string {
  return d ? dtf.format(d) : "—";
}

export function formatTime(d: Date): string {
  return tf.format(d);
}

export function formatDay(d: Date): string {
  return df.format(d);
}

/** "3 min ago", "in 2 h": for times near now. */
export function relative(d: Date | undefined, now: Date = new Date()): string {
  if (!d) return "—";
  const s = Math.round((d.getTime() - now.getTime()) / 1000);
  if (Math.abs(s) < 5) return "just now";
  const abs = Math.abs(s);
  const [n, unit] = abs < 60 ? [abs, "s"] : abs < 3600 ? [Math.round(abs / 60), "min"] : abs < 86400 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** A length of time: "45 s", "3 min", "2 h", "5 d". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** The first block of a UUID, for narrow columns (the full id is in the title). */
export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}

/** datetime-local input value ⇄ Date (local time). */
export function toLocalInput(d: Date | undefined): string {
  if (!d) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fromLocalInput(s: string): Date | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
