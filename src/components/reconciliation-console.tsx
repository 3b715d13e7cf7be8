"use client";

import Link from "next/link";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { ErrorNote, SignInPrompt, buttonClass } from "./form";
import { shortHash } from "./format";
import { StatusBadge } from "./status-badge";

type Report = inferRouterOutputs<AppRouter>["admin"]["reconciliation"];
type MoneyState = keyof Report["job_states"];

const STATES: Array<{ state: MoneyState; label: string; style: string; help: string }> = [
  { state: "stuck", label: "stuck", style: "bg-rose-600 text-white ring-rose-700", help: "money that is not moving and should be, or whose records disagree with the chain" },
  { state: "in_flight", label: "in flight", style: "bg-blue-50 text-blue-700 ring-blue-200", help: "a payout, fee or refund recorded and on its way" },
  { state: "escrowed", label: "escrowed", style: "bg-amber-50 text-amber-800 ring-amber-200", help: "the deposit is held for the job" },
  { state: "refunded", label: "refunded", style: "bg-violet-50 text-violet-700 ring-violet-200", help: "the buyer got the rest of the deposit back" },
  { state: "paid", label: "paid", style: "bg-emerald-50 text-emerald-700 ring-emerald-200", help: "the winners and the treasury are paid" },
  { state: "unfunded", label: "unfunded", style: "bg-zinc-100 text-zinc-600 ring-zinc-300", help: "no deposit: the platform holds nothing for the job" },
];
const STATE_STYLE = Object.fromEntries(STATES.map((s) => [s.state, s.style])) as Record<MoneyState, string>;
const PAGE = 50;

function MoneyStateBadge({ state }: { state: MoneyState }) {
  return <span className={`inline-flex items-center whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATE_STYLE[state]}`}>{state.replace("_", " ")}</span>;
}

function Equation({ report }: { report: Report }) {
  const t = report.totals;
  const rows: Array<{ sign: string; label: string; amount: string; books?: string; drift?: boolean; strong?: boolean }> = [
    { sign: "", label: `Starting balance (end of block ${report.from_block === 0 ? "−1, before genesis" : report.from_block - 1})`, amount: t.starting_balance },
    { sign: "+", label: `Deposits of jobs (${report.counts.deposits})`, amount: t.deposits, books: report.books.deposits },
    { sign: "+", label: `Top-ups: mints, treasury, configured senders (${report.counts.top_ups})`, amount: t.top_ups },
    { sign: "+", label: `In, awaiting its POST /fund (${report.counts.awaiting_funding})`, amount: t.awaiting_funding },
    { sign: "+", label: "In, funding no job", amount: t.unattributed_incoming, drift: t.unattributed_incoming !== "0" },
    { sign: "−", label: "Payouts", amount: t.payouts, books: report.books.payouts },
    { sign: "−", label: "Fees", amount: t.fees, books: report.books.fees },
    { sign: "−", label: "Refunds", amount: t.refunds, books: report.books.refunds },
    { sign: "−", label: "Excess refunds", amount: t.excess_refunds, books: report.books.excess_refunds },
    { sign: "−", label: "Out, with no transfer recorded", amount: t.unrecorded_outgoing, drift: t.unrecorded_outgoing !== "0" },
    { sign: "=", label: "Expected balance", amount: t.expected_balance, strong: true },
    { sign: "", label: `Balance on chain at block ${report.to_block}`, amount: t.balance, strong: true, drift: t.balance_difference !== "0" },
  ];
  return (
    <section data-testid="reconciliation-equation" className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Operations wallet</h2>
      <p className="break-all text-xs text-slate-500">
        {report.operations_wallet} · USDC {report.usdc_contract} · chain {report.chain_id} · blocks {report.from_block}–{report.to_block} ({report.log_requests} log requests)
      </p>
      <table className="w-full text-sm">
        <thead>
          <tr className="text-left text-xs text-slate-500">
            <th className="w-5" />
            <th className="py-1 font-normal">from the chain</th>
            <th className="py-1 text-right font-normal">USDC</th>
            <th className="hidden py-1 pl-4 text-right font-normal sm:table-cell">books (final)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label} className={`border-t border-slate-100 ${r.strong ? "font-semibold" : ""} ${r.drift ? "text-rose-700" : ""}`}>
              <td className="py-1 font-mono text-slate-500">{r.sign}</td>
              <td className="py-1 pr-2">{r.label}</td>
              <td className="py-1 text-right font-mono tabular-nums" data-testid={r.sign === "=" ? "expected-balance" : r.label.startsWith("Balance") ? "chain-balance" : undefined}>
                {r.amount}
              </td>
              <td className="hidden py-1 pl-4 text-right font-mono tabular-nums text-slate-500 sm:table-cell">{r.books ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className={`text-sm ${t.balance_difference === "0" ? "text-emerald-700" : "font-semibold text-rose-700"}`}>
        {t.balance_difference === "0" ? "The balance on chain is exactly the starting balance plus everything in less everything out." : `The balance on chain differs from the sum of its transfers by ${t.balance_difference} USDC.`}
      </p>
      <p className="text-xs text-slate-500">
        Books: {report.books.in_flight.count} transfer{report.books.in_flight.count === 1 ? "" : "s"} in flight ({report.books.in_flight.amount} USDC), {report.books.failed.count} failed,{" "}
        {report.books.skipped.count} skipped, {report.books.nonce_fillers} nonce filler{report.books.nonce_fillers === 1 ? "" : "s"} (they move no USDC).
      </p>
    </section>
  );
}

function Differences({ report }: { report: Report }) {
  return (
    <section data-testid="reconciliation-differences" className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Differences ({report.drift_count})</h2>
      {report.drift_count === 0 && <p className="text-sm text-slate-500">None: every transfer on chain is recorded, and every record is on chain.</p>}
      <ul className="space-y-2">
        {report.differences.map((d, i) => (
          <li key={`${d.kind}-${d.tx_hash ?? ""}-${d.transfer_id ?? ""}-${d.task_id ?? ""}-${i}`} data-testid="difference" className="space-y-1 rounded-md bg-rose-50/60 p-3 text-sm ring-1 ring-rose-200">
            <p className="flex flex-wrap items-center gap-x-3 gap-y-1">
              <span className="font-mono text-xs font-semibold text-rose-800">{d.kind}</span>
              {d.task_id && (
                <Link href={`/jobs/${d.task_id}`} className="font-mono text-xs text-blue-700 hover:underline">
                  job {d.task_id.slice(0, 8)}
                </Link>
              )}
              {d.tx_hash && <span className="break-all font-mono text-xs text-slate-500">{d.tx_hash.includes(",") ? d.tx_hash : shortHash(d.tx_hash)}</span>}
              {d.block_number !== null && <span className="text-xs text-slate-500">block {d.block_number}</span>}
            </p>
            <p className="break-words text-slate-800">{d.detail}</p>
            {(d.amount !== null || d.recorded_amount !== null) && (
              <p className="text-xs text-slate-600">
                chain: <span className="font-mono">{d.amount ?? "—"}</span> · books: <span className="font-mono">{d.recorded_amount ?? "—"}</span>
              </p>
            )}
          </li>
        ))}
      </ul>
      {report.differences.length < report.drift_count && <p className="text-xs text-slate-500">The first {report.differences.length} are listed; `npm run reconcile -- --json` prints them all.</p>}
    </section>
  );
}

function Jobs({ report, state, setState, offset, setOffset }: { report: Report; state: MoneyState | undefined; setState: (s: MoneyState | undefined) => void; offset: number; setOffset: (n: number) => void }) {
  return (
    <section className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Jobs by money state</h2>
      <div role="group" aria-label="Filter jobs by money state" className="flex flex-wrap gap-2">
        <button type="button" onClick={() => setState(undefined)} aria-pressed={state === undefined} className={`rounded-full px-3 py-1 text-xs font-medium ring-1 ring-inset ${state === undefined ? "bg-slate-900 text-white ring-slate-900" : "bg-white text-slate-700 ring-slate-300"}`}>
          all funded
        </button>
        {STATES.map((s) => (
          <button
            key={s.state}
            type="button"
            title={s.help}
            data-testid={`state-${s.state}`}
            aria-pressed={state === s.state}
            onClick={() => setState(s.state)}
            className={`rounded-full px-3 py-1 text-xs font-medium ring-1 ring-inset ${state === s.state ? "outline outline-2 outline-offset-1 outline-slate-900" : ""} ${s.style}`}
          >
            {s.label} <span className="tabular-nums">{report.job_states[s.state]}</span>
          </button>
        ))}
      </div>
      {state === "unfunded" ? (
        <p className="text-sm text-slate-500">Unfunded jobs hold no money; they are only counted.</p>
      ) : report.jobs.total === 0 ? (
        <p className="text-sm text-slate-500">No job in this state.</p>
      ) : (
        <>
          <ul className="space-y-2 sm:hidden">
            {report.jobs.items.map((j) => (
              <li key={j.task_id} data-testid="reconciliation-job-card" className="space-y-1 rounded-md p-2 text-sm ring-1 ring-slate-200">
                <p className="flex flex-wrap items-center gap-2">
                  <Link href={`/jobs/${j.task_id}`} className="font-mono text-blue-700 hover:underline">
                    {j.task_id.slice(0, 8)}
                  </Link>
                  <StatusBadge status={j.status} />
                  <MoneyStateBadge state={j.money_state} />
                </p>
                <p className="font-mono text-xs tabular-nums text-slate-600">
                  deposit {j.deposit}
                  {j.deposit_on_chain !== j.deposit && ` (chain: ${j.deposit_on_chain ?? "none"})`} · paid out {j.payouts} · fees {j.fees} · refunded {j.refunds} · held {j.held}
                </p>
                {j.reasons.map((r) => (
                  <p key={r} className="break-words text-xs text-rose-700">
                    {r}
                  </p>
                ))}
              </li>
            ))}
          </ul>
          <div className="hidden overflow-x-auto sm:block">
            <table className="w-full min-w-[44rem] text-sm">
              <thead>
                <tr className="text-left text-xs text-slate-500">
                  <th className="py-1 pr-2 font-normal">job</th>
                  <th className="py-1 pr-2 font-normal">status</th>
                  <th className="py-1 pr-2 font-normal">money</th>
                  <th className="py-1 pr-2 text-right font-normal">deposit</th>
                  <th className="py-1 pr-2 text-right font-normal">paid out</th>
                  <th className="py-1 pr-2 text-right font-normal">fees</th>
                  <th className="py-1 pr-2 text-right font-normal">refunded</th>
                  <th className="py-1 text-right font-normal">held</th>
                </tr>
              </thead>
              <tbody>
                {report.jobs.items.map((j) => (
                  <tr key={j.task_id} data-testid="reconciliation-job" className="border-t border-slate-100 align-top">
                    <td className="py-1.5 pr-2">
                      <Link href={`/jobs/${j.task_id}`} className="font-mono text-blue-700 hover:underline">
                        {j.task_id.slice(0, 8)}
                      </Link>
                      {j.reasons.map((r) => (
                        <p key={r} className="max-w-md text-xs text-rose-700">
                          {r}
                        </p>
                      ))}
                    </td>
                    <td className="py-1.5 pr-2">
                      <StatusBadge status={j.status} />
                    </td>
                    <td className="py-1.5 pr-2">
                      <MoneyStateBadge state={j.money_state} />
                    </td>
                    <td className="py-1.5 pr-2 text-right font-mono tabular-nums">
                      {j.deposit}
                      {j.deposit_on_chain !== j.deposit && <span className="block text-xs text-rose-700">chain: {j.deposit_on_chain ?? "none"}</span>}
                    </td>
                    <td className="py-1.5 pr-2 text-right font-mono tabular-nums">{j.payouts}</td>
                    <td className="py-1.5 pr-2 text-right font-mono tabular-nums">{j.fees}</td>
                    <td className="py-1.5 pr-2 text-right font-mono tabular-nums">{j.refunds}</td>
                    <td className="py-1.5 text-right font-mono tabular-nums">{j.held}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {report.jobs.total > PAGE && (
        <div className="flex items-center gap-3 text-sm">
          <button type="button" className="rounded-md px-2 py-1 ring-1 ring-slate-300 disabled:opacity-40" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <span className="text-slate-600">
            {offset + 1}–{Math.min(offset + PAGE, report.jobs.total)} of {report.jobs.total}
          </span>
          <button type="button" className="rounded-md px-2 py-1 ring-1 ring-slate-300 disabled:opacity-40" disabled={offset + PAGE >= report.jobs.total} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </div>
      )}
    </section>
  );
}

function OtherIncoming({ report }: { report: Report }) {
  if (report.other_incoming.length === 0) return null;
  return (
    <section className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Money in that is no job&apos;s deposit (not drift)</h2>
      <ul className="space-y-1 text-sm">
        {report.other_incoming.map((o) => (
          <li key={`${o.tx_hash}-${o.from}-${o.amount}`} className="flex flex-wrap gap-x-3">
            <span className="font-medium">{o.kind === "top_up" ? "top-up" : "awaiting its POST /fund"}</span>
            <span className="font-mono tabular-nums">{o.amount} USDC</span>
            <span className="break-all font-mono text-xs text-slate-500">
              from {o.from} · {shortHash(o.tx_hash)} · block {o.block_number}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Runs() {
  const trpc = useTRPC();
  const runs = useQuery(trpc.admin.reconciliationRuns.queryOptions({ limit: 10, offset: 0 }));
  return (
    <section data-testid="reconciliation-runs" className="space-y-2 rounded-lg bg-white p-4 ring-1 ring-slate-200">
      <h2 className="font-semibold">Recorded runs</h2>
      <p className="text-xs text-slate-500">The scheduled check runs every 15 minutes, records itself here and alerts admin agents&apos; webhooks (reconciliation.drift) when it finds new drift.</p>
      {runs.data?.runs.length === 0 && <p className="text-sm text-slate-500">None yet.</p>}
      <ul className="divide-y divide-slate-100 text-sm">
        {runs.data?.runs.map((r) => (
          <li key={r.run_id} data-testid="reconciliation-run" className="flex flex-wrap items-center gap-x-3 gap-y-1 py-1.5">
            <span className="tabular-nums text-slate-600">{new Date(r.started_at).toLocaleString()}</span>
            <span className="text-xs text-slate-500">{r.trigger}</span>
            <span className={r.outcome === "clean" ? "text-emerald-700" : r.outcome === "drift" ? "font-semibold text-rose-700" : "font-semibold text-amber-700"}>
              {r.outcome === "drift" ? `drift: ${r.drift_count}` : r.outcome}
            </span>
            {r.alerted_at && <span className="text-xs text-rose-700">alert sent</span>}
            {r.error && <span className="w-full break-words text-xs text-amber-800">{r.error}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** /admin/reconciliation: books against chain, to the base unit (GET /admin/reconciliation). */
export function ReconciliationConsole() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [state, setState] = useState<MoneyState | undefined>(undefined);
  const [offset, setOffset] = useState(0);
  const me = useQuery({ ...trpc.owners.me.queryOptions(), retry: false });
  const isAdmin = me.data?.is_admin === true;
  const report = useQuery({
    ...trpc.admin.reconciliation.queryOptions({ ...(state && state !== "unfunded" ? { state } : {}), limit: PAGE, offset }),
    enabled: isAdmin,
    placeholderData: keepPreviousData,
    retry: false,
  });
  const record = useMutation(
    trpc.admin.recordReconciliationRun.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.admin.reconciliationRuns.queryKey() });
        void report.refetch();
      },
    }),
  );
  if (me.isPending) return <p className="text-sm text-slate-500">Loading…</p>;
  if (me.isError) return <SignInPrompt purpose="with an admin account." />;
  if (!isAdmin) return <p className="text-sm text-slate-600">This page is for admins; {me.data.email} is not one.</p>;

  const data = report.data;
  return (
    <div className="space-y-6">
      <div className="space-y-2">
        <p className="text-sm">
          <Link href="/admin" className="text-blue-700 hover:underline">
            ← Admin
          </Link>
        </p>
        <h1 className="text-2xl font-semibold tracking-tight">Reconciliation</h1>
        <p className="text-sm text-slate-600">
          The operations wallet&apos;s USDC transfers read from the chain, matched with every recorded deposit, payout, fee and refund, to the base unit.
        </p>
        <div className="flex flex-wrap gap-3">
          <button type="button" className={buttonClass} disabled={report.isFetching} onClick={() => void report.refetch()}>
            {report.isFetching ? "Checking…" : "Check again"}
          </button>
          <button type="button" className="rounded-md px-4 py-2 text-sm font-medium ring-1 ring-slate-300 hover:bg-slate-100 disabled:opacity-50" disabled={record.isPending} onClick={() => record.mutate()}>
            {record.isPending ? "Recording…" : "Record a run and alert"}
          </button>
        </div>
        {record.data && (
          <p role="status" className="text-sm text-slate-700">
            Run recorded: {record.data.outcome}
            {record.data.outcome === "drift" && ` (${record.data.drift_count} difference${record.data.drift_count === 1 ? "" : "s"}${record.data.alerted_at ? ", alert sent" : ", already alerted"})`}.
          </p>
        )}
        {record.error && <ErrorNote>{record.error.message}</ErrorNote>}
      </div>
      {report.error && <ErrorNote>{report.error.message}</ErrorNote>}
      {!data && report.isPending && <p className="text-sm text-slate-500">Reading the chain…</p>}
      {data && (
        <>
            <p
              data-testid="reconciliation-verdict"
              role="status"
              className={`rounded-md px-4 py-3 text-sm font-medium ${data.clean ? "bg-emerald-50 text-emerald-900 ring-1 ring-emerald-200" : "bg-rose-600 text-white"}`}
            >
              {data.clean
                ? `Clean: books and chain agree to the base unit (checked ${new Date(data.checked_at).toLocaleTimeString()}).`
                : `Drift: ${data.drift_count} difference${data.drift_count === 1 ? "" : "s"} between the books and the chain (checked ${new Date(data.checked_at).toLocaleTimeString()}).`}
            </p>
            <Equation report={data} />
            <Differences report={data} />
            <Jobs
              report={data}
              state={state}
              setState={(s) => {
                setState(s);
                setOffset(0);
              }}
              offset={offset}
              setOffset={setOffset}
            />
            <OtherIncoming report={data} />
        </>
      )}
      <Runs />
    </div>
  );
}
