import { z } from "zod";
import type { ReconciliationRun } from "~/generated/prisma/client";
import { formatUsdc } from "~/server/money";
import {
  DIFFERENCE_KINDS,
  MONEY_STATES,
  type Difference,
  type JobMoney,
  type OtherIncoming,
  type ReconciliationReport,
} from "~/server/services/reconciliation/reconcile-books";

// The wire (and stored) form of a reconciliation: amounts exact as USDC decimal strings, block
// numbers as numbers. reconciliation_runs keeps totals, job states and differences in this form.

const usdc = z.string().meta({ description: "USDC amount as a decimal string, exact to the base unit", example: "10.5" });
const block = z.number().int();
const nullableUsdc = usdc.nullable();
const DIFFERENCE_KIND_NAMES = Object.keys(DIFFERENCE_KINDS) as [keyof typeof DIFFERENCE_KINDS, ...(keyof typeof DIFFERENCE_KINDS)[]];

export const ZMoneyState = z.enum(MONEY_STATES);

export const ZReconciliationTotalsDto = z
  .object({
    starting_balance: usdc.meta({ description: "what the operations wallet held at the end of block from_block − 1 (0 when the scan starts at genesis)" }),
    deposits: usdc.meta({ description: "USDC in, in transactions that fund a job" }),
    top_ups: usdc.meta({ description: "USDC in from mints, TREASURY_ADDRESS or RECONCILIATION_TOP_UP_ADDRESSES: not a job's money" }),
    awaiting_funding: usdc.meta({ description: "USDC in that funds no job yet, younger than RECONCILIATION_DEPOSIT_GRACE_SECONDS" }),
    unattributed_incoming: usdc.meta({ description: "USDC in that funds no job past the grace: drift" }),
    payouts: usdc,
    fees: usdc,
    refunds: usdc,
    excess_refunds: usdc,
    unrecorded_outgoing: usdc.meta({ description: "USDC out in transactions we have no transfer for: drift" }),
    expected_balance: usdc.meta({ description: "starting_balance + everything in − everything out" }),
    balance: usdc.meta({ description: "the operations wallet's USDC on chain at to_block" }),
    balance_difference: usdc.meta({ description: "balance − expected_balance; 0 unless the scan missed something" }),
  })
  .meta({ id: "ReconciliationTotals" });

export const ZReconciliationBooksDto = z
  .object({
    deposits: usdc.meta({ description: "the deposits recorded on jobs" }),
    payouts: usdc.meta({ description: "transfers recorded final (success), by kind" }),
    fees: usdc,
    refunds: usdc,
    excess_refunds: usdc,
    in_flight: z.object({ count: z.number().int(), amount: usdc }).meta({ description: "transfers pending or sent (not final yet)" }),
    failed: z.object({ count: z.number().int(), amount: usdc }),
    skipped: z.object({ count: z.number().int(), amount: usdc }),
    nonce_fillers: z.number().int().meta({ description: "zero-value self transactions that filled nonce gaps; they move no USDC" }),
  })
  .meta({ id: "ReconciliationBooks" });

export const ZDifferenceDto = z
  .object({
    kind: z.enum(DIFFERENCE_KIND_NAMES),
    detail: z.string(),
    task_id: z.string().nullable(),
    transfer_id: z.string().nullable(),
    tx_hash: z.string().nullable(),
    log_index: z.number().int().nullable(),
    block_number: block.nullable(),
    amount: nullableUsdc.meta({ description: "what the chain shows" }),
    recorded_amount: nullableUsdc.meta({ description: "what our records say" }),
    from: z.string().nullable(),
    to: z.string().nullable(),
  })
  .meta({ id: "ReconciliationDifference" });

export const ZJobMoneyDto = z
  .object({
    task_id: z.string(),
    status: z.string().meta({ description: "the job's status (expiry applied)" }),
    money_state: ZMoneyState,
    reasons: z.array(z.string()).meta({ description: "why the job is stuck; empty otherwise" }),
    deposit_tx_hash: z.string(),
    deposit: usdc.meta({ description: "the deposit recorded on the job" }),
    deposit_on_chain: nullableUsdc.meta({ description: "the deposit seen on chain; null when it is not there" }),
    payouts: usdc,
    fees: usdc,
    refunds: usdc.meta({ description: "refunds and excess refunds" }),
    in_flight: usdc.meta({ description: "recorded transfers not on chain yet" }),
    held: usdc.meta({ description: "what the operations wallet still holds for the job (negative when the platform paid extra)" }),
    funded_at: z.string().nullable(),
  })
  .meta({ id: "ReconciliationJob" });

export const ZOtherIncomingDto = z
  .object({ kind: z.enum(["top_up", "awaiting_funding"]), tx_hash: z.string(), block_number: block, from: z.string(), amount: usdc })
  .meta({ id: "ReconciliationIncoming" });

const jobStatesShape = Object.fromEntries(MONEY_STATES.map((s) => [s, z.number().int()])) as Record<(typeof MONEY_STATES)[number], z.ZodNumber>;
export const ZJobStatesDto = z.object(jobStatesShape).meta({ id: "ReconciliationJobStates", description: "how many jobs are in each money state" });

export const MAX_LISTED_DIFFERENCES = 1_000;
const MAX_LISTED_INCOMING = 200;

const sampleDifference: z.infer<typeof ZDifferenceDto> = {
  kind: "unrecorded_outgoing",
  detail: "2 USDC left the operations wallet to 0x90F79bf6EB2c4f870365E785982E1f101E93b906 in 0x8f3c1a2b… (block 4411) with no transfer recorded",
  task_id: null,
  transfer_id: null,
  tx_hash: "0x8f3c1a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
  log_index: 0,
  block_number: 4411,
  amount: "2",
  recorded_amount: null,
  from: null,
  to: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
};

const sampleTotals: z.infer<typeof ZReconciliationTotalsDto> = {
  starting_balance: "0",
  deposits: "1250",
  top_ups: "100",
  awaiting_funding: "0",
  unattributed_incoming: "0",
  payouts: "760",
  fees: "190",
  refunds: "60",
  excess_refunds: "0",
  unrecorded_outgoing: "2",
  expected_balance: "338",
  balance: "338",
  balance_difference: "0",
};

const sampleJobStates = { stuck: 0, in_flight: 1, escrowed: 12, refunded: 6, paid: 95, unfunded: 4 };

export const ZReconciliationReportDto = z
  .object({
    clean: z.boolean().meta({ description: "true when no difference was found" }),
    drift_count: z.number().int().meta({ description: "how many differences" }),
    checked_at: z.string(),
    operations_wallet: z.string(),
    usdc_contract: z.string(),
    chain_id: z.number().int(),
    from_block: block.meta({ description: "first block scanned (RECONCILIATION_START_BLOCK)" }),
    to_block: block.meta({ description: "the chain's latest block when the check began" }),
    log_requests: z.number().int(),
    totals: ZReconciliationTotalsDto,
    books: ZReconciliationBooksDto,
    counts: z.object({ deposits: z.number().int(), top_ups: z.number().int(), awaiting_funding: z.number().int(), outgoing: z.number().int() }),
    job_states: ZJobStatesDto,
    differences: z.array(ZDifferenceDto).meta({ description: `every difference, the first ${MAX_LISTED_DIFFERENCES}` }),
    other_incoming: z.array(ZOtherIncomingDto).meta({ description: `USDC in that is no job's deposit and not drift: top-ups and deposits awaiting their POST /fund (the latest ${MAX_LISTED_INCOMING})` }),
    jobs: z.object({ total: z.number().int().meta({ description: "funded jobs in the chosen money state (all funded jobs without one)" }), items: z.array(ZJobMoneyDto) }),
  })
  .meta({
    id: "Reconciliation",
    example: {
      clean: false,
      drift_count: 1,
      checked_at: "2026-12-02T12:00:00.000Z",
      operations_wallet: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      usdc_contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      chain_id: 31337,
      from_block: 0,
      to_block: 4420,
      log_requests: 2,
      totals: sampleTotals,
      books: { deposits: "1250", payouts: "760", fees: "190", refunds: "60", excess_refunds: "0", in_flight: { count: 1, amount: "8" }, failed: { count: 0, amount: "0" }, skipped: { count: 0, amount: "0" }, nonce_fillers: 0 },
      counts: { deposits: 118, top_ups: 1, awaiting_funding: 0, outgoing: 241 },
      job_states: sampleJobStates,
      differences: [sampleDifference],
      other_incoming: [{ kind: "top_up", tx_hash: "0x1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c", block_number: 3, from: "0x0000000000000000000000000000000000000000", amount: "100" }],
      jobs: {
        total: 1,
        items: [
          {
            task_id: "3f1c9a52-8b1e-4d7a-9c3e-2a6b5d4e7f10",
            status: "claimed",
            money_state: "escrowed",
            reasons: [],
            deposit_tx_hash: "0x2e7f1b8d3c6a0e5f9b2d7c4a1e8f3b6d0c9a2e5f8b1d4c7a0e3f6b9d2c5a4c9a",
            deposit: "10",
            deposit_on_chain: "10",
            payouts: "0",
            fees: "0",
            refunds: "0",
            in_flight: "0",
            held: "10",
            funded_at: "2026-12-02T11:40:00.000Z",
          },
        ],
      },
    },
  });

export const sampleReconciliationRun = {
  run_id: "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  trigger: "schedule" as const,
  outcome: "drift" as const,
  started_at: "2026-12-02T12:00:00.000Z",
  finished_at: "2026-12-02T12:00:01.200Z",
  from_block: 0,
  to_block: 4420,
  drift_count: 1,
  totals: sampleTotals,
  job_states: sampleJobStates,
  differences: [sampleDifference],
  alerted_at: "2026-12-02T12:00:01.210Z",
  error: null,
};

export const ZReconciliationRunDto = z
  .object({
    run_id: z.string(),
    trigger: z.enum(["schedule", "admin"]),
    outcome: z.enum(["clean", "drift", "error"]),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    from_block: block.nullable(),
    to_block: block.nullable(),
    drift_count: z.number().int(),
    totals: ZReconciliationTotalsDto.nullable(),
    job_states: ZJobStatesDto.nullable(),
    differences: z.array(ZDifferenceDto),
    alerted_at: z.string().nullable().meta({ description: "when this run raised the admin alert (webhook event reconciliation.drift); null when it found nothing new" }),
    error: z.string().nullable().meta({ description: "why the check could not run (outcome error)" }),
  })
  .meta({ id: "ReconciliationRun", example: sampleReconciliationRun });

export type DifferenceDto = z.infer<typeof ZDifferenceDto>;
export type ReconciliationTotalsDto = z.infer<typeof ZReconciliationTotalsDto>;
export type JobStatesDto = z.infer<typeof ZJobStatesDto>;

const big = (v: bigint | undefined | null) => (v === undefined || v === null ? null : formatUsdc(v));
const blockNumber = (v: bigint | undefined | null) => (v === undefined || v === null ? null : Number(v));

export function toDifferenceDto(d: Difference): DifferenceDto {
  return {
    kind: d.kind,
    detail: d.detail,
    task_id: d.jobId ?? null,
    transfer_id: d.transferId ?? null,
    tx_hash: d.txHash ?? null,
    log_index: d.logIndex ?? null,
    block_number: blockNumber(d.blockNumber),
    amount: big(d.amount),
    recorded_amount: big(d.recordedAmount),
    from: d.from ?? null,
    to: d.to ?? null,
  };
}

export function toTotalsDto(report: ReconciliationReport): ReconciliationTotalsDto {
  const t = report.totals;
  return {
    starting_balance: formatUsdc(t.startingBalance),
    deposits: formatUsdc(t.deposits),
    top_ups: formatUsdc(t.topUps),
    awaiting_funding: formatUsdc(t.awaitingFunding),
    unattributed_incoming: formatUsdc(t.unattributedIncoming),
    payouts: formatUsdc(t.payouts),
    fees: formatUsdc(t.fees),
    refunds: formatUsdc(t.refunds),
    excess_refunds: formatUsdc(t.excessRefunds),
    unrecorded_outgoing: formatUsdc(t.unrecordedOutgoing),
    expected_balance: formatUsdc(t.expectedBalance),
    balance: formatUsdc(t.balance),
    balance_difference: formatUsdc(t.balance - t.expectedBalance),
  };
}

function toJobMoneyDto(j: JobMoney): z.infer<typeof ZJobMoneyDto> {
  return {
    task_id: j.jobId,
    status: j.status,
    money_state: j.state,
    reasons: j.reasons,
    deposit_tx_hash: j.depositTxHash,
    deposit: formatUsdc(j.deposit),
    deposit_on_chain: big(j.depositOnChain),
    payouts: formatUsdc(j.payouts),
    fees: formatUsdc(j.fees),
    refunds: formatUsdc(j.refunds),
    in_flight: formatUsdc(j.inFlight),
    held: formatUsdc(j.held),
    funded_at: j.fundedAt?.toISOString() ?? null,
  };
}

function toOtherIncomingDto(o: OtherIncoming): z.infer<typeof ZOtherIncomingDto> {
  return { kind: o.kind, tx_hash: o.txHash, block_number: Number(o.blockNumber), from: o.from, amount: formatUsdc(o.amount) };
}

export function toReconciliationReportDto(report: ReconciliationReport, page: { state?: (typeof MONEY_STATES)[number]; limit: number; offset: number }): z.infer<typeof ZReconciliationReportDto> {
  const b = report.books;
  const chosen = page.state ? report.jobs.filter((j) => j.state === page.state) : report.jobs;
  return {
    clean: report.differences.length === 0,
    drift_count: report.differences.length,
    checked_at: report.checkedAt.toISOString(),
    operations_wallet: report.operationsWallet,
    usdc_contract: report.usdcContract,
    chain_id: report.chainId,
    from_block: Number(report.fromBlock),
    to_block: Number(report.toBlock),
    log_requests: report.logRequests,
    totals: toTotalsDto(report),
    books: {
      deposits: formatUsdc(b.deposits),
      payouts: formatUsdc(b.payouts),
      fees: formatUsdc(b.fees),
      refunds: formatUsdc(b.refunds),
      excess_refunds: formatUsdc(b.excessRefunds),
      in_flight: { count: b.inFlight.count, amount: formatUsdc(b.inFlight.amount) },
      failed: { count: b.failed.count, amount: formatUsdc(b.failed.amount) },
      skipped: { count: b.skipped.count, amount: formatUsdc(b.skipped.amount) },
      nonce_fillers: b.nonceFillers,
    },
    counts: { deposits: report.counts.deposits, top_ups: report.counts.topUps, awaiting_funding: report.counts.awaitingFunding, outgoing: report.counts.outgoing },
    job_states: report.jobStates,
    differences: report.differences.slice(0, MAX_LISTED_DIFFERENCES).map(toDifferenceDto),
    other_incoming: report.otherIncoming.slice(-MAX_LISTED_INCOMING).map(toOtherIncomingDto),
    jobs: { total: chosen.length, items: chosen.slice(page.offset, page.offset + page.limit).map(toJobMoneyDto) },
  };
}

export function toReconciliationRunDto(run: ReconciliationRun): z.infer<typeof ZReconciliationRunDto> {
  return {
    run_id: run.id,
    trigger: run.trigger as "schedule" | "admin",
    outcome: run.outcome as "clean" | "drift" | "error",
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    from_block: run.fromBlock === null ? null : Number(run.fromBlock),
    to_block: run.toBlock === null ? null : Number(run.toBlock),
    drift_count: run.driftCount,
    totals: run.outcome === "error" ? null : (run.totals as ReconciliationTotalsDto),
    job_states: run.outcome === "error" ? null : (run.jobStates as JobStatesDto),
    differences: run.differences as DifferenceDto[],
    alerted_at: run.alertedAt?.toISOString() ?? null,
    error: run.error,
  };
}
