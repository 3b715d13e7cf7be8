import { formatUsdc } from "~/server/money";
import { chainNameForId } from "~/server/chain/chain-client";
import { DIFFERENCE_KINDS, MONEY_STATES, type ReconciliationReport } from "./reconcile-books";

const MAX_LISTED = 50;

/** The reconciliation as `npm run reconcile` prints it: the wallet's equation, job states, stuck jobs, every difference. */
export function formatReconciliationReport(report: ReconciliationReport): string {
  const t = report.totals;
  const rows: Array<[string, string, bigint, string?]> = [
    [" ", `starting balance (end of block ${report.fromBlock === 0n ? "−1: before genesis" : report.fromBlock - 1n})`, t.startingBalance],
    ["+", `deposits of jobs (${report.counts.deposits})`, t.deposits],
    ["+", `top-ups: mints, treasury, configured senders (${report.counts.topUps})`, t.topUps],
    ["+", `in, awaiting its POST /fund (${report.counts.awaitingFunding})`, t.awaitingFunding],
    ["+", "in, funding no job", t.unattributedIncoming, t.unattributedIncoming > 0n ? "drift" : undefined],
    ["−", "payouts", t.payouts],
    ["−", "fees", t.fees],
    ["−", "refunds", t.refunds],
    ["−", "excess refunds", t.excessRefunds],
    ["−", "out, with no transfer recorded", t.unrecordedOutgoing, t.unrecordedOutgoing > 0n ? "drift" : undefined],
    ["=", "expected balance", t.expectedBalance],
    [" ", `balance on chain at block ${report.toBlock}`, t.balance, t.balance === t.expectedBalance ? "matches" : `differs by ${formatUsdc(t.balance - t.expectedBalance)}`],
  ];
  const width = Math.max(...rows.map(([, label]) => label.length));
  const amountWidth = Math.max(...rows.map(([, , amount]) => formatUsdc(amount).length));
  const lines = [
    `Reconciliation of the operations wallet ${report.operationsWallet}`,
    `  USDC ${report.usdcContract} on ${chainNameForId(report.chainId)} (chain ${report.chainId}), blocks ${report.fromBlock}–${report.toBlock} (${report.logRequests} log requests), ${report.checkedAt.toISOString()}`,
    "",
    ...rows.map(([sign, label, amount, note]) => `  ${sign} ${label.padEnd(width)}  ${formatUsdc(amount).padStart(amountWidth)} USDC${note ? `   ${note}` : ""}`),
    "",
    `  books: deposits ${formatUsdc(report.books.deposits)}, final payouts ${formatUsdc(report.books.payouts)}, fees ${formatUsdc(report.books.fees)}, refunds ${formatUsdc(report.books.refunds + report.books.excessRefunds)}; ` +
      `in flight ${report.books.inFlight.count} (${formatUsdc(report.books.inFlight.amount)}), failed ${report.books.failed.count}, skipped ${report.books.skipped.count}, nonce fillers ${report.books.nonceFillers}`,
    "",
    `Jobs by money state: ${MONEY_STATES.map((s) => `${s} ${report.jobStates[s]}`).join(" · ")}`,
  ];
  const stuck = report.jobs.filter((j) => j.state === "stuck");
  if (stuck.length > 0) {
    lines.push("", `Stuck jobs (${stuck.length}):`);
    for (const j of stuck.slice(0, MAX_LISTED)) lines.push(`  ${j.jobId} (${j.status}, holds ${formatUsdc(j.held)} USDC)`, ...j.reasons.map((r) => `      ${r}`));
    if (stuck.length > MAX_LISTED) lines.push(`  … and ${stuck.length - MAX_LISTED} more (GET /admin/reconciliation?state=stuck)`);
  }
  if (report.differences.length === 0) {
    lines.push("", "Result: CLEAN — books and chain agree to the base unit.");
  } else {
    lines.push("", `Differences (${report.differences.length}):`);
    for (const d of report.differences.slice(0, MAX_LISTED)) {
      lines.push(`  ${d.kind}${d.jobId ? `  job ${d.jobId}` : ""}${d.transferId ? `  transfer ${d.transferId}` : ""}`, `      ${d.detail}`);
    }
    if (report.differences.length > MAX_LISTED) lines.push(`  … and ${report.differences.length - MAX_LISTED} more (npm run reconcile -- --json)`);
    const kinds = [...new Set(report.differences.map((d) => d.kind))];
    lines.push("", "What each kind means:", ...kinds.map((k) => `  ${k}: ${DIFFERENCE_KINDS[k]}`));
    lines.push("", `Result: DRIFT — ${report.differences.length} difference${report.differences.length === 1 ? "" : "s"} (docs/operations.md#reconciliation says what to do).`);
  }
  return lines.join("\n");
}
