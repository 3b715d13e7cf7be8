export function formatExpiry(unixSeconds: number, now = Date.now()): string {
  const ms = unixSeconds * 1000 - now;
  const abs = Math.abs(ms);
  const unit = abs >= 86_400_000 ? ["day", 86_400_000] : abs >= 3_600_000 ? ["hour", 3_600_000] : ["minute", 60_000];
  const n = Math.max(1, Math.round(abs / (unit[1] as number)));
  const text = `${n} ${unit[0]}${n === 1 ? "" : "s"}`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function shortHash(hash: string | null | undefined): string {
  return hash ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : "—";
}

/** An ISO time as "in 3 hours" / "5 minutes ago" (see formatExpiry). */
export function formatRelative(iso: string, now = Date.now()): string {
  return formatExpiry(Date.parse(iso) / 1000, now);
}
