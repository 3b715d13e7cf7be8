"use client";

import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { StatusBadge } from "./status-badge";
import { formatExpiry, formatRelative, shortHash } from "./format";

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-0.5 text-sm">{children}</dd>
    </div>
  );
}

type Deadlines = NonNullable<inferRouterOutputs<AppRouter>["jobs"]["get"]["deadlines"]>;

/** A time shown relative to now, with the exact time on hover; `empty` when there is none. */
function When({ iso, empty }: { iso: string | null; empty: string }) {
  if (!iso) return <span className="text-slate-400">{empty}</span>;
  return <time dateTime={iso} title={iso}>{formatRelative(iso)}</time>;
}

/** Every deadline of the job on one line: what is still possible, and until when. */
function DeadlineStrip({ deadlines }: { deadlines: Deadlines }) {
  const overdue = deadlines.judging.filter((j) => j.overdue).length;
  return (
    <dl data-testid="deadlines" aria-label="Deadlines" className="flex flex-wrap gap-x-6 gap-y-2 rounded-lg bg-slate-50 px-4 py-3 text-sm ring-1 ring-slate-200">
      <div className="flex gap-1.5" data-testid="deadline-claim">
        <dt className="text-slate-500">Claim &amp; submit until</dt>
        <dd className="font-medium">
          <When iso={deadlines.claim_until} empty="closed" />
        </dd>
      </div>
      <div className="flex gap-1.5" data-testid="deadline-judged">
        <dt className="text-slate-500">Judged by</dt>
        <dd className="font-medium">
          <When iso={deadlines.judged_by} empty="nothing in judgment" />
          {overdue > 0 && <span className="ml-1.5 rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-800">overdue · with admins</span>}
        </dd>
      </div>
      <div className="flex gap-1.5" data-testid="deadline-dispute">
        <dt className="text-slate-500">Disputable until</dt>
        <dd className="font-medium">
          <When iso={deadlines.disputable_until} empty="not settled yet" />
        </dd>
      </div>
    </dl>
  );
}

/** On a delivery still being judged: when its verdict is due, or that it waits for an admin. */
function VerdictDue({ due }: { due: Deadlines["judging"][number] | undefined }) {
  if (!due) return null;
  if (due.overdue) return <span data-testid="verdict-due" className="text-amber-700">verdict overdue: with the admins</span>;
  return (
    <span data-testid="verdict-due" className="text-slate-500">
      verdict due <When iso={due.judged_by} empty="" />
    </span>
  );
}

export function JobDetail({ taskId }: { taskId: string }) {
  const trpc = useTRPC();
  const job = useQuery({ ...trpc.jobs.get.queryOptions({ task_id: taskId }), refetchInterval: 3_000 });
  const submissions = useQuery({ ...trpc.jobs.submissions.queryOptions({ task_id: taskId, limit: 200, offset: 0 }), refetchInterval: 3_000 });

  if (job.isPending) return <p className="text-sm text-slate-500">Loading job…</p>;
  if (job.isError) {
    return (
      <div className="space-y-2">
        <p role="alert" className="rounded-md bg-rose-50 p-3 text-sm text-rose-700">
          {job.error.message}
        </p>
        <Link href="/jobs" className="text-sm text-blue-700 hover:underline">
          ← All jobs
        </Link>
      </div>
    );
  }
  const j = job.data;
  const dueBySubmission = new Map((j.deadlines?.judging ?? []).map((d) => [d.submission_id, d]));
  return (
    <article className="space-y-8">
      <div className="space-y-2">
        <Link href="/jobs" className="text-sm text-blue-700 hover:underline">
          ← All jobs
        </Link>
        <div className="flex flex-wrap items-center gap-3">
          <h1 className="text-2xl font-semibold tracking-tight">{j.title}</h1>
          <StatusBadge status={j.status} />
        </div>
        <p className="font-mono text-xs text-slate-500">{j.task_id}</p>
      </div>

      <dl className="grid grid-cols-2 gap-4 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-4">
        <Field label="Price">{j.price} USDC</Field>
        <Field label="Platform fee">{(j.fee_bps / 100).toFixed(2)}%</Field>
        <Field label="Expiry">
          <span title={new Date(j.expiry * 1000).toISOString()}>{formatExpiry(j.expiry)}</span>
        </Field>
        <Field label="Artifact">{j.artifact_type}</Field>
        <Field label="Buyer">
          <span className="font-mono text-xs">{j.buyer_id}</span>
        </Field>
        <Field label="Winner">{j.winner_id ? <span className="font-mono text-xs">{j.winner_id}</span> : "—"}</Field>
        <Field label="Deposit">{shortHash(j.deposit_tx_hash)}</Field>
        <Field label="Payout">{j.payout_status ? `${j.payout_status} ${shortHash(j.payout_tx_hash)}` : "—"}</Field>
      </dl>

      {j.deadlines && <DeadlineStrip deadlines={j.deadlines} />}

      <section className="space-y-2">
        <h2 className="text-lg font-semibold">Description</h2>
        <p className="whitespace-pre-wrap text-sm text-slate-700">{j.description}</p>
      </section>

      <section className="space-y-2">
        <h2 className="text-lg font-semibold">Rubric</h2>
        <pre data-testid="rubric" className="whitespace-pre-wrap rounded-md bg-white p-3 text-sm ring-1 ring-slate-200">
          {j.rubric}
        </pre>
      </section>

      <section className="space-y-2">
        <h2 className="text-lg font-semibold">Participants ({j.participants.length})</h2>
        {j.participants.length === 0 ? (
          <p className="text-sm text-slate-500">No worker has claimed this job yet.</p>
        ) : (
          <ul className="divide-y divide-slate-100 rounded-md bg-white ring-1 ring-slate-200">
            {j.participants.map((p) => (
              <li key={p.worker_id} data-testid="participant" className="flex justify-between px-3 py-2 text-sm">
                <span className="font-mono text-xs">{p.worker_id}</span>
                <span className="text-slate-500">claimed {new Date(p.claimed_at).toLocaleString()}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="space-y-3">
        <h2 className="text-lg font-semibold">Submissions ({j.submission_count})</h2>
        {submissions.data?.submissions.length ? (
          submissions.data.submissions.map((s) => (
            <div key={s.submission_id} data-testid="submission" className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
              <div className="flex flex-wrap items-center gap-3 text-sm">
                <span className="font-mono text-xs">{s.worker_id}</span>
                <span className="text-slate-500">attempt {s.attempt}</span>
                <StatusBadge status={s.status} />
                {s.oracle_score !== null && <span className="text-slate-600">score {s.oracle_score}</span>}
                <span className="text-slate-500">{s.oracle_mode === "manual" ? "manual review" : "model judge"}</span>
                <VerdictDue due={dueBySubmission.get(s.submission_id)} />
              </div>
              {s.oracle_reason && <p className="text-sm text-slate-700">{s.oracle_reason}</p>}
              <ol className="space-y-1" aria-label="Oracle steps">
                {s.oracle_steps.map((step, i) => (
                  <li key={`${step.name}-${i}`} data-testid="oracle-step" className="flex items-start gap-2 text-sm">
                    <span aria-hidden className={step.passed ? "text-emerald-600" : "text-rose-600"}>
                      {step.passed ? "✓" : "✗"}
                    </span>
                    <span className="font-mono text-xs">{step.name}</span>
                    <span className="sr-only">{step.passed ? "passed" : "failed"}</span>
                    {step.detail && <span className="text-slate-600">— {step.detail}</span>}
                  </li>
                ))}
                {s.oracle_steps.length === 0 && <li className="text-sm text-slate-500">Waiting for the oracle…</li>}
              </ol>
            </div>
          ))
        ) : (
          <p className="text-sm text-slate-500">No submissions yet.</p>
        )}
      </section>
    </article>
  );
}
