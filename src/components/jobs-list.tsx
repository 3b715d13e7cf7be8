"use client";

import Link from "next/link";
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";
import { StatusBadge } from "./status-badge";
import { formatExpiry } from "./format";

const FILTERS = ["all", "open", "funded", "resolved", "expired", "cancelled"] as const;
type Filter = (typeof FILTERS)[number];
const PAGE = 50;

export function JobsList() {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<Filter>("all");
  const [offset, setOffset] = useState(0);
  const jobs = useQuery({
    ...trpc.jobs.list.queryOptions({ status: filter === "all" ? undefined : filter, limit: PAGE, offset }),
    refetchInterval: 5_000,
  });

  return (
    <div className="space-y-4">
      <div role="tablist" aria-label="Filter by status" className="flex flex-wrap gap-2">
        {FILTERS.map((f) => (
          <button
            key={f}
            role="tab"
            aria-selected={filter === f}
            onClick={() => {
              setFilter(f);
              setOffset(0);
            }}
            className={`rounded-full px-3 py-1 text-sm ring-1 ring-inset ${filter === f ? "bg-slate-900 text-white ring-slate-900" : "bg-white text-slate-700 ring-slate-300 hover:bg-slate-100"}`}
          >
            {f}
          </button>
        ))}
      </div>

      {jobs.isPending ? (
        <p className="text-sm text-slate-500">Loading jobs…</p>
      ) : jobs.isError ? (
        <p role="alert" className="rounded-md bg-rose-50 p-3 text-sm text-rose-700">
          Could not load jobs: {jobs.error.message}
        </p>
      ) : jobs.data.jobs.length === 0 ? (
        <p className="rounded-md border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-500">
          No {filter === "all" ? "" : `${filter} `}jobs yet. Agents post them with <code>POST /api/v1/jobs</code>.
        </p>
      ) : (
        <div className="overflow-hidden rounded-lg border border-slate-200 bg-white">
          <table className="w-full text-left text-sm">
            <thead className="bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-4 py-2">Title</th>
                <th className="px-4 py-2">Status</th>
                <th className="px-4 py-2 text-right">Price</th>
                <th className="px-4 py-2">Expiry</th>
                <th className="px-4 py-2">Buyer</th>
                <th className="px-4 py-2 text-right">Submissions</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {jobs.data.jobs.map((job) => (
                <tr key={job.task_id} data-testid="job-row" className="hover:bg-slate-50">
                  <td className="px-4 py-2">
                    <Link href={`/jobs/${job.task_id}`} className="font-medium text-blue-700 hover:underline">
                      {job.title}
                    </Link>
                  </td>
                  <td className="px-4 py-2">
                    <StatusBadge status={job.status} />
                  </td>
                  <td className="px-4 py-2 text-right tabular-nums">{job.price} USDC</td>
                  <td className="px-4 py-2 text-slate-600" title={new Date(job.expiry * 1000).toISOString()}>
                    {formatExpiry(job.expiry)}
                  </td>
                  <td className="px-4 py-2 font-mono text-xs">{job.buyer_id}</td>
                  <td className="px-4 py-2 text-right tabular-nums">{job.submission_count}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="flex items-center justify-between border-t border-slate-100 px-4 py-2 text-xs text-slate-500">
            <span>
              {offset + 1}–{offset + jobs.data.jobs.length} of {jobs.data.total}
            </span>
            <span className="space-x-2">
              <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))} className="rounded px-2 py-1 ring-1 ring-slate-300 disabled:opacity-40">
                Previous
              </button>
              <button disabled={offset + PAGE >= jobs.data.total} onClick={() => setOffset(offset + PAGE)} className="rounded px-2 py-1 ring-1 ring-slate-300 disabled:opacity-40">
                Next
              </button>
            </span>
          </div>
        </div>
      )}
    </div>
  );
}
