import { getAddress, zeroAddress, type Address, type Hash } from "viem";
import type { Env } from "~/env";
import type { JobStatus, TransferKind, TransferStatus } from "~/generated/prisma/client";
import type { ChainClient } from "~/server/chain/chain";
import { readBlockTimestamps, readDepositReceipt, readOpsUsdcBalanceAt, readOpsWalletTransfers, type UsdcTransferLog } from "~/server/chain/usdc-transfer-logs";
import type { Db, DbTx } from "~/server/db";
import { AppError } from "~/server/errors";
import { formatUsdc } from "~/server/money";
import { effectiveStatus } from "~/server/services/jobs/job-state";

// Books against chain, to the base unit. Every USDC Transfer log to or from the operations wallet
// in the scanned blocks is put in exactly one bucket (a job's deposit, a top-up, stray money in,
// a recorded payout/fee/refund, money out we have no record of), every recorded deposit and
// transfer is looked for on chain, and every funded job gets one money state. What does not agree
// is a difference; the count of differences is the drift.

/** Where a job's money is. `unfunded`: no deposit recorded, so the platform holds nothing for it. */
export const MONEY_STATES = ["stuck", "in_flight", "escrowed", "refunded", "paid", "unfunded"] as const;
export type MoneyState = (typeof MONEY_STATES)[number];

export const DIFFERENCE_KINDS = {
  unattributed_deposit: "USDC arrived at the operations wallet in a transaction that funds no job, and not from a top-up address",
  deposit_not_on_chain: "a job is recorded as funded by a transaction that moves no USDC to the operations wallet on chain",
  deposit_amount_mismatch: "a job's deposit moved another amount on chain than the one recorded",
  deposit_sender_mismatch: "a job's deposit came on chain from another address than the one recorded",
  deposit_before_start_block: "a recorded deposit was mined before RECONCILIATION_START_BLOCK, so the totals miss it",
  transfer_not_on_chain: "a transfer recorded as success has no USDC transfer on chain under any of its hashes",
  transfer_mismatch: "a recorded transfer went out on chain with another amount or to another recipient",
  transfer_on_chain_but_not_sent: "a transfer recorded as failed, skipped or pending moved USDC on chain (sending it again would pay twice)",
  transfer_paid_twice: "two transactions on chain carry the same recorded transfer",
  transfer_before_start_block: "a recorded transfer was mined before RECONCILIATION_START_BLOCK, so the totals miss it",
  unrecorded_outgoing: "USDC left the operations wallet in a transaction we have no record of",
  balance_mismatch: "the wallet's balance on chain is not the starting balance plus what came in less what went out",
} as const;
export type DifferenceKind = keyof typeof DIFFERENCE_KINDS;

export interface Difference {
  kind: DifferenceKind;
  detail: string;
  jobId?: string;
  transferId?: string;
  txHash?: string;
  logIndex?: number;
  blockNumber?: bigint;
  /** What the chain shows (base units). */
  amount?: bigint;
  /** What our records say (base units). */
  recordedAmount?: bigint;
  from?: string;
  to?: string;
}

/** Money into the operations wallet that funds no job and is not drift (yet). */
export interface OtherIncoming {
  kind: "top_up" | "awaiting_funding";
  txHash: string;
  blockNumber: bigint;
  from: string;
  amount: bigint;
}

export interface JobMoney {
  jobId: string;
  status: JobStatus;
  state: MoneyState;
  /** Why a job is stuck (empty otherwise). */
  reasons: string[];
  depositTxHash: string;
  /** The deposit recorded on the job. */
  deposit: bigint;
  /** The deposit seen on chain; null when it is not (see the job's differences). */
  depositOnChain: bigint | null;
  /** Sent on chain for this job, by kind (excess refunds count as refunds). */
  payouts: bigint;
  fees: bigint;
  refunds: bigint;
  /** Recorded transfers not on chain yet (pending, or sent and not mined). */
  inFlight: bigint;
  /** What the operations wallet still holds for the job: deposit on chain less what went out for it (negative when the platform paid extra). */
  held: bigint;
  fundedAt: Date | null;
}

export interface ReconciliationTotals {
  /** What the wallet held at the end of block fromBlock - 1 (0 when the scan starts at genesis). */
  startingBalance: bigint;
  deposits: bigint;
  topUps: bigint;
  awaitingFunding: bigint;
  unattributedIncoming: bigint;
  payouts: bigint;
  fees: bigint;
  refunds: bigint;
  excessRefunds: bigint;
  unrecordedOutgoing: bigint;
  /** startingBalance + everything in − everything out. */
  expectedBalance: bigint;
  /** balanceOf(operations wallet) at toBlock. */
  balance: bigint;
}

export interface BookTotals {
  deposits: bigint;
  /** Transfers recorded final (`success`), by kind. */
  payouts: bigint;
  fees: bigint;
  refunds: bigint;
  excessRefunds: bigint;
  inFlight: { count: number; amount: bigint };
  failed: { count: number; amount: bigint };
  skipped: { count: number; amount: bigint };
  nonceFillers: number;
}

export interface ReconciliationReport {
  operationsWallet: Address;
  usdcContract: Address;
  chainId: number;
  fromBlock: bigint;
  toBlock: bigint;
  logRequests: number;
  checkedAt: Date;
  totals: ReconciliationTotals;
  books: BookTotals;
  counts: { deposits: number; topUps: number; awaitingFunding: number; outgoing: number };
  jobStates: Record<MoneyState, number>;
  /** Funded jobs, stuck first (unfunded ones are only counted). */
  jobs: JobMoney[];
  otherIncoming: OtherIncoming[];
  differences: Difference[];
}

export interface ReconciliationSettings {
  /** The first block scanned; the starting balance is the wallet's at the end of the block before. */
  startBlock: bigint;
  chunkBlocks: number;
  confirmations: number;
  /** A transfer not final this long after it was recorded, or an expired/cancelled job still holding money this long after, is stuck. */
  stuckAfterSeconds: number;
  /** How long unclaimed USDC that arrived may wait for its POST /fund before it is drift. */
  depositGraceSeconds: number;
  /** Senders whose USDC in is a top-up: mints (the zero address), the treasury, and any configured. */
  topUpAddresses: Address[];
}

export function reconciliationSettings(env: Env): ReconciliationSettings {
  return {
    startBlock: BigInt(env.RECONCILIATION_START_BLOCK),
    chunkBlocks: env.RECONCILIATION_LOG_CHUNK_BLOCKS,
    confirmations: env.CONFIRMATIONS,
    stuckAfterSeconds: env.TRANSFER_STUCK_AFTER_SECONDS,
    depositGraceSeconds: env.RECONCILIATION_DEPOSIT_GRACE_SECONDS,
    topUpAddresses: [zeroAddress, env.TREASURY_ADDRESS, ...env.RECONCILIATION_TOP_UP_ADDRESSES].map((a) => getAddress(a)),
  };
}

// Chain lookups made per item only for what does not match (normally none), and capped.
const MAX_DEPOSIT_LOOKUPS = 100;
const MAX_TIMESTAMP_LOOKUPS = 200;
const PAGE = 5_000;

export async function reconcileBooks({ db, chain, settings, now = new Date() }: { db: Db; chain: ChainClient; settings: ReconciliationSettings; now?: Date }): Promise<ReconciliationReport> {
  // The chain first, up to a head read before the books: every transfer is recorded before its
  // bytes are broadcast and every deposit is on chain before a job records it, so nothing mined up
  // to that head is missing from books read afterwards.
  const chainView = await readChain(chain, settings);
  const books = await readBooks(db);
  return matchBooksToChain({ chain, settings, chainView, books, now });
}

interface ChainView {
  fromBlock: bigint;
  toBlock: bigint;
  headTimestamp: number;
  startingBalance: bigint;
  balance: bigint;
  incoming: UsdcTransferLog[];
  outgoing: UsdcTransferLog[];
  requests: number;
}

async function readChain(chain: ChainClient, settings: ReconciliationSettings): Promise<ChainView> {
  try {
    const head = await chain.publicClient.getBlock({ blockTag: "latest" });
    const toBlock = head.number;
    const fromBlock = settings.startBlock;
    if (fromBlock > toBlock) {
      throw new AppError("CHAIN_UNAVAILABLE", `RECONCILIATION_START_BLOCK (${fromBlock}) is past the chain's latest block (${toBlock}): is CHAIN_RPC_URL the chain the market runs on?`);
    }
    const [startingBalance, balance, logs] = await Promise.all([
      fromBlock === 0n ? 0n : readOpsUsdcBalanceAt(chain, fromBlock - 1n),
      readOpsUsdcBalanceAt(chain, toBlock),
      readOpsWalletTransfers({ chain, fromBlock, toBlock, chunkBlocks: settings.chunkBlocks }),
    ]);
    return { fromBlock, toBlock, headTimestamp: Number(head.timestamp), startingBalance, balance, incoming: logs.incoming, outgoing: logs.outgoing, requests: logs.requests };
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError("CHAIN_UNAVAILABLE", `Could not read the operations wallet's USDC history from the chain: ${firstLine(error)}`);
  }
}

interface BookJob {
  id: string;
  status: JobStatus;
  expiry: Date;
  cancelledAt: Date | null;
  fundedAt: Date | null;
  depositTxHash: string | null;
  depositAmount: bigint | null;
  depositFrom: string | null;
}

interface BookTransfer {
  id: string;
  jobId: string;
  kind: TransferKind;
  status: TransferStatus;
  amount: bigint;
  toAddress: string | null;
  txHash: string | null;
  replacedTxHashes: string[];
  blockNumber: bigint | null;
  createdAt: Date;
  error: string | null;
}

interface Books {
  jobs: BookJob[];
  transfers: BookTransfer[];
  judgingJobIds: Set<string>;
  unfundedJobs: number;
  fillerHashes: Set<string>;
}

/** One consistent snapshot (repeatable read), read in keyset pages so no statement grows with the market. */
async function readBooks(db: Db): Promise<Books> {
  return db.$transaction(
    async (tx) => {
      const jobs = await readPaged<BookJob>((cursor) =>
        tx.job.findMany({
          where: { depositTxHash: { not: null } },
          select: { id: true, status: true, expiry: true, cancelledAt: true, fundedAt: true, depositTxHash: true, depositAmount: true, depositFrom: true },
          orderBy: { id: "asc" },
          take: PAGE,
          ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
        }),
      );
      const transfers = await readPaged<BookTransfer>((cursor) =>
        tx.transfer.findMany({
          select: { id: true, jobId: true, kind: true, status: true, amount: true, toAddress: true, txHash: true, replacedTxHashes: true, blockNumber: true, createdAt: true, error: true },
          orderBy: { id: "asc" },
          take: PAGE,
          ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
        }),
      );
      const judging = await tx.submission.findMany({ where: { status: "judging" }, select: { jobId: true }, distinct: ["jobId"] });
      const unfundedJobs = await tx.job.count({ where: { depositTxHash: null } });
      const fillers = await readFillerHashes(tx);
      return { jobs, transfers, judgingJobIds: new Set(judging.map((s) => s.jobId)), unfundedJobs, fillerHashes: fillers };
    },
    { isolationLevel: "RepeatableRead", timeout: 120_000, maxWait: 10_000 },
  );
}

async function readPaged<T extends { id: string }>(page: (cursor: string | undefined) => Promise<T[]>): Promise<T[]> {
  const all: T[] = [];
  for (let cursor: string | undefined; ; ) {
    const rows = await page(cursor);
    all.push(...rows);
    if (rows.length < PAGE) return all;
    cursor = rows[rows.length - 1]!.id;
  }
}

async function readFillerHashes(tx: DbTx): Promise<Set<string>> {
  const rows = await tx.nonceFiller.findMany({ select: { txHash: true } });
  return new Set(rows.map((r) => r.txHash.toLowerCase()));
}

const lower = (s: string) => s.toLowerCase();
const sum = (logs: { value: bigint }[]) => logs.reduce((total, log) => total + log.value, 0n);
const usdc = (amount: bigint) => `${formatUsdc(amount)} USDC`;
const short = (hash: string) => `${hash.slice(0, 10)}…`;

function groupByTx(logs: UsdcTransferLog[]): Map<string, UsdcTransferLog[]> {
  const out = new Map<string, UsdcTransferLog[]>();
  for (const log of logs) {
    const key = lower(log.txHash);
    out.set(key, [...(out.get(key) ?? []), log]);
  }
  return out;
}

async function matchBooksToChain({ chain, settings, chainView, books, now }: { chain: ChainClient; settings: ReconciliationSettings; chainView: ChainView; books: Books; now: Date }): Promise<ReconciliationReport> {
  const { fromBlock, toBlock } = chainView;
  const differences: Difference[] = [];
  const otherIncoming: OtherIncoming[] = [];
  const totals: ReconciliationTotals = {
    startingBalance: chainView.startingBalance,
    deposits: 0n,
    topUps: 0n,
    awaitingFunding: 0n,
    unattributedIncoming: 0n,
    payouts: 0n,
    fees: 0n,
    refunds: 0n,
    excessRefunds: 0n,
    unrecordedOutgoing: 0n,
    expectedBalance: 0n,
    balance: chainView.balance,
  };

  // --- Money in: each transaction to the wallet is a job's deposit, a top-up, or unexplained.
  const incomingByTx = groupByTx(chainView.incoming);
  const depositOnChain = new Map<string, bigint>();
  const unmatchedDeposits: BookJob[] = [];
  for (const job of books.jobs) {
    const hash = lower(job.depositTxHash!);
    const logs = incomingByTx.get(hash);
    if (!logs) {
      unmatchedDeposits.push(job);
      continue;
    }
    incomingByTx.delete(hash);
    const amount = sum(logs);
    depositOnChain.set(job.id, amount);
    totals.deposits += amount;
    const recorded = job.depositAmount ?? 0n;
    if (amount !== recorded) {
      differences.push({ kind: "deposit_amount_mismatch", jobId: job.id, txHash: hash, blockNumber: logs[0]!.blockNumber, amount, recordedAmount: recorded, detail: `deposit ${short(hash)} moved ${usdc(amount)} to the operations wallet on chain; the job records ${usdc(recorded)}` });
    }
    const senders = [...new Set(logs.map((l) => l.from))];
    if (job.depositFrom && senders.some((s) => lower(s) !== lower(job.depositFrom!))) {
      differences.push({ kind: "deposit_sender_mismatch", jobId: job.id, txHash: hash, blockNumber: logs[0]!.blockNumber, amount, from: senders.join(","), detail: `deposit ${short(hash)} came from ${senders.join(", ")} on chain; the job records ${job.depositFrom}` });
    }
  }
  await explainMissingDeposits({ chain, jobs: unmatchedDeposits, fromBlock, toBlock, differences });

  const topUps = new Set(settings.topUpAddresses.map(lower));
  const unexplained: UsdcTransferLog[] = [];
  for (const logs of incomingByTx.values()) {
    for (const log of logs) {
      if (topUps.has(lower(log.from))) {
        totals.topUps += log.value;
        otherIncoming.push({ kind: "top_up", txHash: log.txHash, blockNumber: log.blockNumber, from: log.from, amount: log.value });
      } else {
        unexplained.push(log);
      }
    }
  }
  // A buyer sends first and calls POST /fund once the transfer has CONFIRMATIONS: until the grace
  // has passed, money that funds no job yet is waiting for its job, not drift.
  const confirmedBlocks = unexplained.filter((log) => toBlock - log.blockNumber + 1n >= BigInt(settings.confirmations)).map((log) => log.blockNumber);
  const timestamps = settings.depositGraceSeconds > 0 ? await readBlockTimestamps(chain, [...new Set(confirmedBlocks)].slice(-MAX_TIMESTAMP_LOOKUPS)) : new Map<bigint, number>();
  for (const log of unexplained) {
    const depth = toBlock - log.blockNumber + 1n;
    const minedAt = timestamps.get(log.blockNumber);
    const waiting = depth < BigInt(settings.confirmations) || (minedAt !== undefined && chainView.headTimestamp - minedAt < settings.depositGraceSeconds);
    if (waiting) {
      totals.awaitingFunding += log.value;
      otherIncoming.push({ kind: "awaiting_funding", txHash: log.txHash, blockNumber: log.blockNumber, from: log.from, amount: log.value });
    } else {
      totals.unattributedIncoming += log.value;
      differences.push({ kind: "unattributed_deposit", txHash: log.txHash, logIndex: log.logIndex, blockNumber: log.blockNumber, amount: log.value, from: log.from, detail: `${usdc(log.value)} from ${log.from} in ${short(log.txHash)} (block ${log.blockNumber}) funds no job` });
    }
  }

  // --- Money out: each transaction from the wallet is one of our transfers (under its current or a replaced hash), or unrecorded.
  const rowByHash = new Map<string, BookTransfer>();
  for (const t of books.transfers) {
    for (const hash of [t.txHash, ...t.replacedTxHashes]) if (hash) rowByHash.set(lower(hash), t);
  }
  const matched = new Map<string, Array<{ hash: string; logs: UsdcTransferLog[] }>>();
  for (const [hash, logs] of groupByTx(chainView.outgoing)) {
    const row = rowByHash.get(hash);
    if (row) {
      matched.set(row.id, [...(matched.get(row.id) ?? []), { hash, logs }]);
      continue;
    }
    for (const log of logs) {
      totals.unrecordedOutgoing += log.value;
      const filler = books.fillerHashes.has(hash) ? " (the hash of one of our nonce fillers, which never move USDC)" : "";
      differences.push({ kind: "unrecorded_outgoing", txHash: log.txHash, logIndex: log.logIndex, blockNumber: log.blockNumber, amount: log.value, to: log.to, detail: `${usdc(log.value)} left the operations wallet to ${log.to} in ${short(log.txHash)} (block ${log.blockNumber}) with no transfer recorded${filler}` });
    }
  }

  const bookTotals: BookTotals = {
    deposits: books.jobs.reduce((s, j) => s + (j.depositAmount ?? 0n), 0n),
    payouts: 0n,
    fees: 0n,
    refunds: 0n,
    excessRefunds: 0n,
    inFlight: { count: 0, amount: 0n },
    failed: { count: 0, amount: 0n },
    skipped: { count: 0, amount: 0n },
    nonceFillers: books.fillerHashes.size,
  };
  const outByJob = new Map<string, { payouts: bigint; fees: bigint; refunds: bigint; inFlight: bigint }>();
  const transfersByJob = new Map<string, BookTransfer[]>();
  for (const t of books.transfers) {
    transfersByJob.set(t.jobId, [...(transfersByJob.get(t.jobId) ?? []), t]);
    const out = outByJob.get(t.jobId) ?? { payouts: 0n, fees: 0n, refunds: 0n, inFlight: 0n };
    outByJob.set(t.jobId, out);
    if (t.status === "success") bookTotals[bookKey(t.kind)] += t.amount;
    else if (t.status === "pending" || t.status === "waiting_for_funds" || t.status === "sent") {
      bookTotals.inFlight.count++;
      bookTotals.inFlight.amount += t.amount;
    } else {
      bookTotals[t.status].count++;
      bookTotals[t.status].amount += t.amount;
    }

    const found = matched.get(t.id) ?? [];
    const onChain = found.reduce((s, f) => s + sum(f.logs), 0n);
    if (found.length === 0) {
      if (t.status === "pending" || t.status === "waiting_for_funds" || t.status === "sent") out.inFlight += t.amount;
      if (t.status === "success") {
        if (t.blockNumber !== null && t.blockNumber > toBlock) continue; // mined after the head this run read
        const before = t.blockNumber !== null && t.blockNumber < fromBlock;
        differences.push({
          kind: before ? "transfer_before_start_block" : "transfer_not_on_chain",
          jobId: t.jobId,
          transferId: t.id,
          txHash: t.txHash ?? undefined,
          blockNumber: t.blockNumber ?? undefined,
          recordedAmount: t.amount,
          to: t.toAddress ?? undefined,
          detail: before
            ? `${t.kind} ${usdc(t.amount)} was mined in block ${t.blockNumber}, before RECONCILIATION_START_BLOCK (${fromBlock})`
            : `${t.kind} ${usdc(t.amount)} to ${t.toAddress} is recorded as success, but ${t.txHash ? short(t.txHash) : "its transaction"} moved no USDC from the operations wallet on chain`,
        });
      }
      continue;
    }
    totals[totalKey(t.kind)] += onChain;
    out[jobKey(t.kind)] += onChain;
    const first = found[0]!;
    if (found.length > 1) {
      differences.push({ kind: "transfer_paid_twice", jobId: t.jobId, transferId: t.id, txHash: found.map((f) => f.hash).join(","), amount: onChain, recordedAmount: t.amount, detail: `${t.kind} ${usdc(t.amount)} went out in ${found.length} transactions (${found.map((f) => short(f.hash)).join(", ")}): ${usdc(onChain)} in all` });
    }
    for (const { hash, logs } of found) {
      const amount = sum(logs);
      const recipients = [...new Set(logs.map((l) => l.to))];
      const sameRecipient = recipients.length === 1 && t.toAddress !== null && lower(recipients[0]!) === lower(t.toAddress);
      if (amount !== t.amount || !sameRecipient) {
        differences.push({ kind: "transfer_mismatch", jobId: t.jobId, transferId: t.id, txHash: hash, blockNumber: logs[0]!.blockNumber, amount, recordedAmount: t.amount, to: recipients.join(","), detail: `${t.kind} is recorded as ${usdc(t.amount)} to ${t.toAddress}; on chain ${short(hash)} moved ${usdc(amount)} to ${recipients.join(", ")}` });
      }
    }
    if (t.status !== "success" && t.status !== "sent") {
      differences.push({ kind: "transfer_on_chain_but_not_sent", jobId: t.jobId, transferId: t.id, txHash: first.hash, blockNumber: first.logs[0]!.blockNumber, amount: onChain, recordedAmount: t.amount, detail: `${t.kind} ${usdc(t.amount)} is recorded as ${t.status}, but ${short(first.hash)} moved ${usdc(onChain)} on chain (block ${first.logs[0]!.blockNumber}); do not retry it` });
    }
  }

  totals.expectedBalance =
    totals.startingBalance + totals.deposits + totals.topUps + totals.awaitingFunding + totals.unattributedIncoming -
    totals.payouts - totals.fees - totals.refunds - totals.excessRefunds - totals.unrecordedOutgoing;
  if (totals.expectedBalance !== totals.balance) {
    differences.push({ kind: "balance_mismatch", blockNumber: toBlock, amount: totals.balance, recordedAmount: totals.expectedBalance, detail: `the operations wallet holds ${usdc(totals.balance)} at block ${toBlock}, but its starting balance plus every USDC transfer in and less every one out comes to ${usdc(totals.expectedBalance)}` });
  }

  // --- One money state per funded job.
  const differencesByJob = new Map<string, Difference[]>();
  for (const d of differences) if (d.jobId) differencesByJob.set(d.jobId, [...(differencesByJob.get(d.jobId) ?? []), d]);
  const jobs = books.jobs.map((job) =>
    jobMoney({
      job,
      now,
      settings,
      transfers: transfersByJob.get(job.id) ?? [],
      out: outByJob.get(job.id) ?? { payouts: 0n, fees: 0n, refunds: 0n, inFlight: 0n },
      depositOnChain: depositOnChain.get(job.id) ?? null,
      differences: differencesByJob.get(job.id) ?? [],
      judging: books.judgingJobIds.has(job.id),
    }),
  );
  const order = new Map(MONEY_STATES.map((s, i) => [s, i]));
  jobs.sort((a, b) => order.get(a.state)! - order.get(b.state)! || (b.fundedAt?.getTime() ?? 0) - (a.fundedAt?.getTime() ?? 0));
  const jobStates = Object.fromEntries(MONEY_STATES.map((s) => [s, 0])) as Record<MoneyState, number>;
  for (const j of jobs) jobStates[j.state]++;
  jobStates.unfunded = books.unfundedJobs;

  const kindOrder = Object.keys(DIFFERENCE_KINDS);
  differences.sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || Number((a.blockNumber ?? 0n) - (b.blockNumber ?? 0n)));

  return {
    operationsWallet: chain.opsAddress,
    usdcContract: chain.usdcAddress,
    chainId: chain.chainId,
    fromBlock,
    toBlock,
    logRequests: chainView.requests,
    checkedAt: now,
    totals,
    books: bookTotals,
    counts: {
      deposits: depositOnChain.size,
      topUps: otherIncoming.filter((o) => o.kind === "top_up").length,
      awaitingFunding: otherIncoming.filter((o) => o.kind === "awaiting_funding").length,
      outgoing: chainView.outgoing.length,
    },
    jobStates,
    jobs,
    otherIncoming,
    differences,
  };
}

function bookKey(kind: TransferKind): "payouts" | "fees" | "refunds" | "excessRefunds" {
  return kind === "payout" ? "payouts" : kind === "fee" ? "fees" : kind === "refund" ? "refunds" : "excessRefunds";
}
const totalKey = bookKey;
function jobKey(kind: TransferKind): "payouts" | "fees" | "refunds" {
  return kind === "payout" ? "payouts" : kind === "fee" ? "fees" : "refunds";
}

/**
 * Recorded deposits whose transaction is not among the scanned logs: one receipt each says why
 * (unknown to the chain, reverted, no USDC to us, or before the start block). Normally none.
 */
async function explainMissingDeposits({ chain, jobs, fromBlock, toBlock, differences }: { chain: ChainClient; jobs: BookJob[]; fromBlock: bigint; toBlock: bigint; differences: Difference[] }) {
  for (const [i, job] of jobs.entries()) {
    const hash = lower(job.depositTxHash!);
    const base = { jobId: job.id, txHash: hash, recordedAmount: job.depositAmount ?? 0n };
    if (i >= MAX_DEPOSIT_LOOKUPS) {
      differences.push({ ...base, kind: "deposit_not_on_chain", detail: `deposit ${short(hash)} is not among the USDC transfers to the operations wallet in blocks ${fromBlock}–${toBlock} (not looked up one by one: more than ${MAX_DEPOSIT_LOOKUPS} such deposits)` });
      continue;
    }
    let receipt: Awaited<ReturnType<typeof readDepositReceipt>>;
    try {
      receipt = await readDepositReceipt(chain, hash as Hash);
    } catch (error) {
      differences.push({ ...base, kind: "deposit_not_on_chain", detail: `deposit ${short(hash)} could not be looked up on chain: ${firstLine(error)}` });
      continue;
    }
    if (!receipt) {
      differences.push({ ...base, kind: "deposit_not_on_chain", detail: `the job is recorded as funded by ${short(hash)}, which the chain does not know` });
    } else if (receipt.blockNumber < fromBlock) {
      differences.push({ ...base, kind: "deposit_before_start_block", blockNumber: receipt.blockNumber, detail: `deposit ${short(hash)} was mined in block ${receipt.blockNumber}, before RECONCILIATION_START_BLOCK (${fromBlock})` });
    } else if (receipt.blockNumber <= toBlock) {
      differences.push({ ...base, kind: "deposit_not_on_chain", blockNumber: receipt.blockNumber, detail: `the job is recorded as funded by ${short(hash)} (block ${receipt.blockNumber}), which ${receipt.succeeded ? "moves no USDC to the operations wallet" : "reverted"}` });
    }
    // Mined after the head this run read: the next run sees it.
  }
}

function jobMoney({
  job,
  now,
  settings,
  transfers,
  out,
  depositOnChain,
  differences,
  judging,
}: {
  job: BookJob;
  now: Date;
  settings: ReconciliationSettings;
  transfers: BookTransfer[];
  out: { payouts: bigint; fees: bigint; refunds: bigint; inFlight: bigint };
  depositOnChain: bigint | null;
  differences: Difference[];
  judging: boolean;
}): JobMoney {
  const status = effectiveStatus(job, now);
  const held = (depositOnChain ?? 0n) - out.payouts - out.fees - out.refunds;
  const stuckAfterMs = settings.stuckAfterSeconds * 1_000;
  const reasons = differences.map((d) => d.detail);
  for (const t of transfers) {
    if (t.status === "failed") reasons.push(`${t.kind} ${usdc(t.amount)} failed (${t.error ?? "reverted on chain"})`);
    if (t.status === "waiting_for_funds") reasons.push(`${t.kind} ${usdc(t.amount)} waits for funds (${t.error ?? "the operations wallet cannot cover it"})`);
    if (t.status === "skipped") reasons.push(`${t.kind} ${usdc(t.amount)} was skipped (${t.error ?? "no recipient"}); waits for an admin's retry`);
    if ((t.status === "pending" || t.status === "sent") && now.getTime() - t.createdAt.getTime() > stuckAfterMs) {
      reasons.push(`${t.kind} ${usdc(t.amount)} is still ${t.status} ${Math.round((now.getTime() - t.createdAt.getTime()) / 1_000)} s after it was recorded`);
    }
  }
  // A job that can no longer pay anyone, still holding money, with no refund on its way.
  const endedAt = status === "cancelled" ? job.cancelledAt : status === "expired" ? job.expiry : null;
  const refundRecorded = transfers.some((t) => t.kind === "refund");
  if (endedAt && held > 0n && !refundRecorded && !judging && now.getTime() - endedAt.getTime() > stuckAfterMs) {
    reasons.push(`${usdc(held)} still held ${Math.round((now.getTime() - endedAt.getTime()) / 1_000)} s after the job was ${status}, and no refund is recorded`);
  }

  let state: MoneyState;
  if (reasons.length > 0) state = "stuck";
  else if (transfers.some((t) => t.status === "pending" || t.status === "waiting_for_funds" || t.status === "sent")) state = "in_flight";
  else if (status === "resolved" && transfers.some((t) => t.kind === "payout" && t.status === "success")) state = "paid";
  else if (transfers.some((t) => t.kind === "refund" && t.status === "success")) state = "refunded";
  else state = "escrowed";

  return {
    jobId: job.id,
    status,
    state,
    reasons,
    depositTxHash: job.depositTxHash!,
    deposit: job.depositAmount ?? 0n,
    depositOnChain,
    payouts: out.payouts,
    fees: out.fees,
    refunds: out.refunds,
    inFlight: out.inFlight,
    held,
    fundedAt: job.fundedAt,
  };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 300);
}
