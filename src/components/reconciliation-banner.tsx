"use client";

import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";

/**
 * The admin alert on /admin: what the latest recorded reconciliation run (the scheduled check, or
 * an admin's "record a run") found. Drift is a red banner until a later run comes back clean.
 */
export function ReconciliationBanner() {
  const trpc = useTRPC();
  const runs = useQuery({ ...trpc.admin.reconciliationRuns.queryOptions({ limit: 1, offset: 0 }), refetchInterval: 60_000 });
  const latest = runs.data?.runs[0];
  const review = (
    <Link href="/admin/reconciliation" className="font-medium underline underline-offset-2">
      Review the reconciliation
    </Link>
  );
  if (!latest) {
    return (
      <p data-testid="reconciliation-banner" className="rounded-md bg-slate-100 px-4 py-3 text-sm text-slate-700">
        {runs.isPending ? "Reading the last reconciliation…" : "No reconciliation run recorded yet (the check runs every 15 minutes)."} {review}
      </p>
    );
  }
  const when = new Date(latest.started_at).toLocaleString();
  if (latest.outcome === "drift") {
    return (
      <div role="alert" data-testid="reconciliation-banner" className="rounded-md bg-rose-600 px-4 py-3 text-sm text-white shadow-sm">
        <p className="font-semibold">
          Books and chain disagree: {latest.drift_count} difference{latest.drift_count === 1 ? "" : "s"} found by the reconciliation of {when}.
        </p>
        <p className="mt-1">
          {latest.differences
            .slice(0, 3)
            .map((d) => d.kind.replaceAll("_", " "))
            .join(", ")}
          {latest.drift_count > 3 ? ", …" : ""} — {review}
        </p>
      </div>
    );
  }
  if (latest.outcome === "error") {
    return (
      <div role="alert" data-testid="reconciliation-banner" className="rounded-md bg-amber-100 px-4 py-3 text-sm text-amber-950 ring-1 ring-amber-300">
        <p className="font-semibold">The last reconciliation ({when}) could not run.</p>
        <p className="mt-1 break-words">{latest.error}</p>
        <p className="mt-1">{review}</p>
      </div>
    );
  }
  return (
    <p data-testid="reconciliation-banner" className="rounded-md bg-emerald-50 px-4 py-3 text-sm text-emerald-900 ring-1 ring-emerald-200">
      Books match the chain to the base unit (last checked {when}). {review}
    </p>
  );
}
