const STYLES: Record<string, string> = {
  open: "bg-slate-100 text-slate-700 ring-slate-300",
  funded: "bg-blue-50 text-blue-700 ring-blue-200",
  resolved: "bg-emerald-50 text-emerald-700 ring-emerald-200",
  expired: "bg-zinc-100 text-zinc-500 ring-zinc-300",
  cancelled: "bg-rose-50 text-rose-700 ring-rose-200",
  judging: "bg-amber-50 text-amber-700 ring-amber-200",
  passed: "bg-emerald-50 text-emerald-700 ring-emerald-200",
  failed: "bg-rose-50 text-rose-700 ring-rose-200",
  success: "bg-emerald-50 text-emerald-700 ring-emerald-200",
  pending: "bg-amber-50 text-amber-700 ring-amber-200",
  sent: "bg-blue-50 text-blue-700 ring-blue-200",
  skipped: "bg-zinc-100 text-zinc-500 ring-zinc-300",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span data-testid="status" className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STYLES[status] ?? STYLES.open}`}>
      {status}
    </span>
  );
}
