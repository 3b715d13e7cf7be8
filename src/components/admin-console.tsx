"use client";

import Link from "next/link";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { ErrorNote, Field, SignInPrompt, buttonClass } from "./form";
import { ReconciliationBanner } from "./reconciliation-banner";

const RESOLUTIONS = [
  { value: "uphold", label: "Uphold (nothing changes)" },
  { value: "overturn_to_worker", label: "Overturn to the worker (pay them)" },
  { value: "refund_buyer", label: "Refund the buyer" },
] as const;

function Solvency() {
  const trpc = useTRPC();
  const solvency = useQuery({ ...trpc.platform.solvency.queryOptions(), refetchInterval: 10_000 });
  return (
    <section data-testid="solvency" className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Operations wallet</h2>
      {solvency.error && <ErrorNote>{solvency.error.message}</ErrorNote>}
      {solvency.data && (
        <dl className="grid grid-cols-2 gap-2 text-sm sm:grid-cols-3">
          <div>
            <dt className="text-slate-500">USDC held</dt>
            <dd data-testid="usdc-balance" className="font-mono">{solvency.data.usdc_balance}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Owed (liabilities)</dt>
            <dd data-testid="liabilities" className="font-mono">{solvency.data.liabilities}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Unsent transfers</dt>
            <dd className="font-mono">
              {solvency.data.unsent_transfers.count} ({solvency.data.unsent_transfers.amount} USDC)
            </dd>
          </div>
          <div>
            <dt className="text-slate-500">Waiting for funds</dt>
            <dd data-testid="waiting-for-funds" className="font-mono">
              {solvency.data.waiting_for_funds.count} ({solvency.data.waiting_for_funds.amount} USDC)
            </dd>
          </div>
          <div>
            <dt className="text-slate-500">Gas (ETH)</dt>
            <dd className={solvency.data.gas.low ? "font-semibold text-rose-700" : "text-emerald-700"}>{solvency.data.gas.low ? "low: top it up" : "enough"}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Solvency</dt>
            <dd className={solvency.data.solvent ? "text-emerald-700" : "font-semibold text-rose-700"}>
              {solvency.data.solvent ? "solvent" : "short"} {solvency.data.solvency_ratio === null ? "" : `(×${solvency.data.solvency_ratio})`}
            </dd>
          </div>
        </dl>
      )}
      <p className="text-xs text-slate-500">{solvency.data && `${solvency.data.operations_wallet} · read ${new Date(solvency.data.checked_at).toLocaleTimeString()}`}</p>
      <p className="text-sm">
        <Link href="/admin/reconciliation" className="text-blue-700 hover:underline">
          Reconciliation: books against chain, every job&apos;s money state →
        </Link>
      </p>
    </section>
  );
}

function Disputes() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const open = useQuery(trpc.disputes.list.queryOptions({ status: "open", limit: 50, offset: 0 }));
  const resolve = useMutation(
    trpc.disputes.resolve.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.disputes.list.queryKey() }),
    }),
  );
  return (
    <section className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Open disputes</h2>
      {resolve.data && (
        <p role="status" className="rounded-md bg-emerald-50 p-3 text-sm text-emerald-900 ring-1 ring-emerald-200">
          Dispute on {resolve.data.task_id.slice(0, 8)} resolved: {resolve.data.resolution}; the job is {resolve.data.job_status}
          {resolve.data.transfers.length > 0 && `; ${resolve.data.transfers.map((t) => `${t.kind} ${t.amount} USDC`).join(", ")} queued`}.
        </p>
      )}
      {resolve.error && <ErrorNote>{resolve.error.message}</ErrorNote>}
      {open.data?.disputes.length === 0 && <p className="text-sm text-slate-500">No open disputes.</p>}
      <ul className="space-y-3">
        {open.data?.disputes.map((d) => (
          <li key={d.dispute_id} data-testid="dispute" className="space-y-2 rounded-md p-3 ring-1 ring-slate-200">
            <p className="text-sm">
              <Link href={`/jobs/${d.task_id}`} className="font-mono text-blue-700 hover:underline">
                {d.task_id.slice(0, 8)}
              </Link>{" "}
              filed by <span className="font-mono">{d.filed_by}</span> on {new Date(d.created_at).toLocaleString()}
            </p>
            <blockquote className="border-l-2 border-slate-300 pl-3 text-sm text-slate-700">{d.reason}</blockquote>
            <form
              className="flex flex-wrap items-end gap-3"
              onSubmit={(e) => {
                e.preventDefault();
                const form = new FormData(e.currentTarget);
                const workerId = String(form.get("worker_id") ?? "").trim();
                resolve.mutate({
                  dispute_id: d.dispute_id,
                  resolution: String(form.get("resolution")) as (typeof RESOLUTIONS)[number]["value"],
                  note: String(form.get("note") ?? ""),
                  ...(workerId ? { worker_id: workerId } : {}),
                });
              }}
            >
              <label className="block space-y-1">
                <span className="text-sm font-medium text-slate-700">Decision</span>
                <select name="resolution" className="block rounded-md border border-slate-300 bg-white px-3 py-2 text-sm">
                  {RESOLUTIONS.map((r) => (
                    <option key={r.value} value={r.value}>
                      {r.label}
                    </option>
                  ))}
                </select>
              </label>
              <div className="w-44">
                <Field label="Worker (overturn only)" name="worker_id" placeholder="default: the filer" />
              </div>
              <div className="min-w-64 flex-1">
                <Field label="Note" name="note" required placeholder="why; kept on the dispute and in the job's log" />
              </div>
              <button type="submit" disabled={resolve.isPending} className={buttonClass}>
                Resolve
              </button>
            </form>
          </li>
        ))}
      </ul>
    </section>
  );
}

const ATTENTION_LABELS = {
  failed: "Reverted",
  waiting_for_funds: "Waiting for funds",
  skipped: "No wallet",
  stuck: "Not final yet",
} as const;

/** Money that has not moved: why, and what happens next (the API's GET /admin/transfers). */
function TransfersNeedingAttention() {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.admin.transfers.queryOptions({ limit: 50, offset: 0 }), refetchInterval: 10_000 });
  return (
    <section data-testid="attention-transfers" className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Transfers that have not moved</h2>
      <p className="text-sm text-slate-600">
        Reverted ones are sent again by themselves until they give up; ones waiting for funds go out, oldest first, once the operations wallet holds enough USDC and gas.
      </p>
      {list.error && <ErrorNote>{list.error.message}</ErrorNote>}
      {list.data && list.data.transfers.length === 0 && <p className="text-sm text-slate-500">None: every transfer is final or on its way.</p>}
      {list.data && list.data.transfers.length > 0 && (
        <ul className="divide-y divide-slate-100 text-sm">
          {list.data.transfers.map((t) => (
            <li key={t.transfer_id} className="space-y-1 py-2">
              <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <span className="rounded bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-800">{ATTENTION_LABELS[t.attention]}</span>
                <span className="font-medium">
                  {t.kind} {t.amount} USDC
                </span>
                <Link href={`/jobs/${t.task_id}`} className="text-xs text-blue-700 hover:underline">
                  job {t.task_id.slice(0, 8)}
                </Link>
                <span className="break-all font-mono text-xs text-slate-500">→ {t.to_address ?? "no wallet"}</span>
              </div>
              {t.error && <p className="break-words text-xs text-slate-600">{t.error}</p>}
              {t.next_retry_at && <p className="text-xs text-slate-500">next try {new Date(t.next_retry_at).toLocaleString()}</p>}
            </li>
          ))}
        </ul>
      )}
      {list.data && list.data.total > list.data.transfers.length && <p className="text-xs text-slate-500">{list.data.total - list.data.transfers.length} more not shown.</p>}
    </section>
  );
}

/** Deliveries nobody judged by their deadline: they wait for an admin, never for the clock. */
function OverdueReviews() {
  const trpc = useTRPC();
  const queue = useQuery({ ...trpc.admin.reviews.queryOptions({ limit: 50, offset: 0 }), refetchInterval: 30_000 });
  return (
    <section data-testid="overdue-reviews" className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Overdue reviews{queue.data ? ` (${queue.data.total})` : ""}</h2>
      <p className="text-sm text-slate-600">
        Deliveries still waiting for a verdict past their deadline. Their jobs are not refunded until one is given: decide each with an admin agent&apos;s key,{" "}
        <code className="text-xs">POST /api/v1/submissions/&#123;id&#125;/verdict</code>.
      </p>
      {queue.error && <ErrorNote>{queue.error.message}</ErrorNote>}
      {queue.data?.reviews.length === 0 && <p className="text-sm text-slate-500">Nothing overdue.</p>}
      <ul className="divide-y divide-slate-100 text-sm">
        {queue.data?.reviews.map((r) => (
          <li key={r.submission_id} data-testid="overdue-review" className="flex flex-wrap gap-x-3 py-1.5">
            <Link href={`/jobs/${r.task_id}`} className="text-blue-700 hover:underline">
              {r.job_title}
            </Link>
            <span className="font-mono text-xs text-slate-600">{r.submission_id.slice(0, 8)}</span>
            <span className="text-slate-600">
              by <span className="font-mono">{r.worker_id}</span> · {r.rule === "manual_review" ? "manual review" : "model judge"} · due{" "}
              <time dateTime={r.judged_by}>{new Date(r.judged_by).toLocaleString()}</time> · job {r.job_status}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

const FUNCTION_LABELS: Record<string, string> = {
  evaluateSubmission: "Judge a delivery",
  sendTransfer: "Send a transfer",
  dispatchWebhooks: "Publish job events",
  deliverWebhook: "Deliver a webhook",
  sweep: "Sweep",
  reconcile: "Reconcile books",
};

/** Background work that used all its attempts (GET /admin/dead-letters): run it again, or let it go. */
function DeadLetters() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery({ ...trpc.admin.deadLetters.queryOptions({ limit: 50, offset: 0 }), refetchInterval: 15_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.deadLetters.queryKey() });
  const requeue = useMutation(trpc.admin.requeueDeadLetter.mutationOptions({ onSettled: refresh }));
  const discard = useMutation(trpc.admin.discardDeadLetter.mutationOptions({ onSettled: refresh }));
  const busy = requeue.isPending || discard.isPending;
  return (
    <section data-testid="dead-letters" className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Dead letters{list.data && list.data.runner === "pg-boss" ? ` (${list.data.total})` : ""}</h2>
      <p className="text-sm text-slate-600">
        Background work that failed every attempt. Fix the cause, then requeue it: each kind of work is safe to run again (a transfer re-sends its stored bytes, never a second payment).
        Discard what was done another way. Over <code className="text-xs">HEALTH_DEAD_LETTER_THRESHOLD</code> of them, <code className="text-xs">/health</code> is degraded.
      </p>
      {list.error && <ErrorNote>{list.error.message}</ErrorNote>}
      {(requeue.error ?? discard.error) && <ErrorNote>{(requeue.error ?? discard.error)!.message}</ErrorNote>}
      {requeue.data && !requeue.isPending && (
        <p role="status" className="rounded-md bg-emerald-50 p-3 text-sm text-emerald-900 ring-1 ring-emerald-200">
          Requeued {FUNCTION_LABELS[requeue.data.function ?? ""] ?? requeue.data.queue} ({requeue.data.dead_letter_id.slice(0, 8)}): it runs again now.
        </p>
      )}
      {list.data?.note && <p className="rounded-md bg-slate-50 p-3 text-sm text-slate-700">{list.data.note}</p>}
      {list.data && list.data.runner === "pg-boss" && list.data.dead_letters.length === 0 && <p className="text-sm text-slate-500">None: every piece of background work finished or is still being tried.</p>}
      {list.data && list.data.dead_letters.length > 0 && (
        <ul className="divide-y divide-slate-100 text-sm">
          {list.data.dead_letters.map((d) => (
            <li key={d.dead_letter_id} data-testid="dead-letter" className="space-y-1 py-2">
              <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <span className="rounded bg-rose-50 px-2 py-0.5 text-xs font-medium text-rose-800">{FUNCTION_LABELS[d.function ?? ""] ?? d.queue}</span>
                <span className="text-slate-600">
                  {d.attempts} attempt{d.attempts === 1 ? "" : "s"}
                  {d.failed_at && (
                    <>
                      , last <time dateTime={d.failed_at}>{new Date(d.failed_at).toLocaleString()}</time>
                    </>
                  )}
                </span>
                <span className="break-all font-mono text-xs text-slate-500">
                  {Object.entries(d.payload)
                    .map(([k, v]) => `${k} ${String(v)}`)
                    .join(" · ")}
                </span>
              </div>
              {d.error && <p className="break-words text-xs text-slate-600">{d.error}</p>}
              <div className="flex flex-wrap items-center gap-3">
                <button type="button" disabled={busy} className={buttonClass} onClick={() => requeue.mutate({ dead_letter_id: d.dead_letter_id })}>
                  Requeue
                </button>
                <button
                  type="button"
                  disabled={busy}
                  className="rounded-md px-3 py-2 text-sm font-medium text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50 disabled:opacity-50"
                  onClick={() => discard.mutate({ dead_letter_id: d.dead_letter_id })}
                >
                  Discard
                </button>
                {d.request_id && <span className="break-all font-mono text-xs text-slate-500">request {d.request_id}</span>}
              </div>
            </li>
          ))}
        </ul>
      )}
      {list.data && list.data.total > list.data.dead_letters.length && <p className="text-xs text-slate-500">{list.data.total - list.data.dead_letters.length} more not shown.</p>}
    </section>
  );
}

function PayoutRetry() {
  const trpc = useTRPC();
  const retry = useMutation(trpc.admin.retryPayout.mutationOptions());
  const [taskId, setTaskId] = useState("");
  return (
    <section className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Retry a job&apos;s stuck payouts</h2>
      <p className="text-sm text-slate-600">Sends again every transfer of the job that reverted on chain, or was skipped because the worker had no wallet and now has one.</p>
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          retry.mutate({ task_id: taskId.trim() });
        }}
      >
        <div className="min-w-80 flex-1">
          <Field label="Job id" name="task_id" value={taskId} onChange={(e) => setTaskId(e.target.value)} required />
        </div>
        <button type="submit" disabled={retry.isPending} className={buttonClass}>
          {retry.isPending ? "Sending…" : "Retry payouts"}
        </button>
      </form>
      {retry.error && <ErrorNote>{retry.error.message}</ErrorNote>}
      {retry.data && (
        <div data-testid="retry-result" role="status" className="space-y-1 text-sm">
          <p>
            Payout status: <strong>{retry.data.payout_status ?? "none"}</strong>
          </p>
          <ul className="text-xs text-slate-600">
            {retry.data.transfers.map((t) => (
              <li key={t.transfer_id}>
                {t.kind} {t.amount} USDC → {t.to_address ?? "no wallet"}: {t.status}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

/** For admins (owners with is_admin, granted by `npm run admin` on the server): money and disputes. */
export function AdminConsole() {
  const trpc = useTRPC();
  const me = useQuery({ ...trpc.owners.me.queryOptions(), retry: false });
  if (me.isPending) return <p className="text-sm text-slate-500">Loading…</p>;
  if (me.isError) return <SignInPrompt purpose="with an admin account." />;
  if (!me.data.is_admin) return <p className="text-sm text-slate-600">This page is for admins; {me.data.email} is not one.</p>;
  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Admin</h1>
        <p className="text-sm text-slate-600">The operations wallet, background work that gave up, disputes waiting for a decision, overdue reviews, and payouts that got stuck.</p>
      </div>
      <ReconciliationBanner />
      <Solvency />
      <TransfersNeedingAttention />
      <DeadLetters />
      <Disputes />
      <OverdueReviews />
      <PayoutRetry />
    </div>
  );
}
