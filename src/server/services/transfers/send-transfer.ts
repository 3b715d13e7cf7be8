import { log } from "~/server/log";
import { withLogContext } from "~/server/log-context";
import { keccak256, type Address, type Hex } from "viem";
import { getEnv } from "~/env";
import type { Db, DbTx } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { BroadcastRefusedError, feeCapsOf, type TransferReceipt } from "~/server/chain/chain-client";
import { lockJob, transitionJob } from "~/server/services/jobs/job-state";
import { enqueueSafely } from "~/server/jobs/client";
import { readOperationsFunds, shortfallFor } from "./operations-funds";
import { repairNonceGaps } from "./repair-nonce-gaps";
import { autoRetryPlan } from "./retry-failed-transfer";

// One advisory-lock key for "choosing or re-signing what a nonce of the operations wallet holds".
export const NONCE_LOCK_KEY = 7_300_001;

export type TransferRow = NonNullable<Awaited<ReturnType<Db["transfer"]["findUnique"]>>>;

export interface SendTransferOptions {
  db: Db;
  chain: ChainClient;
  transferId: string;
  /** How long to wait for the transfer to become final before returning it still `sent`. */
  waitMs?: number;
}

/**
 * Sends one recorded transfer exactly once and follows it until it is final. The row exists
 * before anything is signed (status pending); the signed bytes and their nonce are committed
 * before they are broadcast, so every later attempt (a retry, a second worker, a restart after
 * a crash) works from the stored bytes instead of signing a second payment.
 *
 * - pending (or waiting_for_funds): if the operations wallet cannot cover it (USDC after what is
 *   in flight, ETH for gas), or an older transfer is still waiting, it waits as
 *   `waiting_for_funds` (nothing is signed); otherwise sign with the next free nonce, store,
 *   broadcast → sent.
 * - sent: look for the receipt of the stored bytes or of any earlier version with the same nonce.
 *   None: broadcast the stored bytes again (a node that dropped them, a chain that lost the
 *   block); refused as underpriced, or unmined at the head of the queue for longer than
 *   TRANSFER_STUCK_AFTER_SECONDS: replaced by bytes with higher fees and the same nonce (at
 *   most one version can ever be mined); the nonce taken by another transaction: nothing was
 *   paid, so it is signed anew with a new nonce.
 *   Mined: the block is recorded; once CONFIRMATIONS blocks deep the transfer is final,
 *   `success` or `failed` (reverted). Until then a receipt that vanishes (a reorganisation, a
 *   chain that lost blocks) sends it back to broadcasting.
 */
export async function sendTransfer({ db, chain, transferId, waitMs = 30_000 }: SendTransferOptions): Promise<TransferRow> {
  const found = await db.transfer.findUnique({ where: { id: transferId } });
  if (!found) throw new Error(`transfer ${transferId} not found`);
  // Whatever this logs is about this transfer and its job, whoever called (a request, the runner).
  return withLogContext({ transferId, jobId: found.jobId }, async () => {
    let transfer = found;
    const signedNow = transfer.status === "pending" || transfer.status === "waiting_for_funds";
    if (signedNow) transfer = await signAndBroadcast(db, chain, transfer);
    if (transfer.status !== "sent") return transfer;
    return followUntilFinal(db, chain, transfer, waitMs, signedNow);
  });
}

/** Every hash these bytes (or an earlier version with the same nonce) could be mined under. */
function candidateHashes(transfer: TransferRow): Hex[] {
  const hashes = new Set<string>(transfer.replacedTxHashes);
  if (transfer.signedTx) hashes.add(keccak256(transfer.signedTx as Hex));
  if (transfer.txHash) hashes.add(transfer.txHash);
  return [...hashes] as Hex[];
}

async function findReceipt(chain: ChainClient, transfer: TransferRow): Promise<{ hash: Hex; receipt: TransferReceipt } | null> {
  for (const hash of candidateHashes(transfer)) {
    const receipt = await chain.getTransferReceipt(hash);
    if (receipt) return { hash, receipt };
  }
  return null;
}

async function followUntilFinal(db: Db, chain: ChainClient, sent: TransferRow, waitMs: number, justBroadcast: boolean): Promise<TransferRow> {
  const { CONFIRMATIONS: confirmations, TRANSFER_STUCK_AFTER_SECONDS: stuckAfterSeconds } = getEnv();
  const deadline = Date.now() + waitMs;
  let transfer = sent;
  // Stored bytes from an earlier attempt are broadcast again once: the node may have lost them.
  let broadcastDone = justBroadcast;
  for (;;) {
    const found = await findReceipt(chain, transfer);
    if (found) {
      transfer = await recordMined(db, transfer, found.hash, found.receipt.blockNumber);
      const depth = (await chain.getBlockNumber()) - found.receipt.blockNumber + 1n;
      if (depth >= BigInt(Math.max(confirmations, 1))) return recordFinal(db, transfer, found.receipt.status);
    } else {
      if (transfer.blockNumber !== null) {
        log.warn("a mined transfer is no longer on chain (reorganised or lost); broadcasting it again", { transferId: transfer.id, txHash: transfer.txHash, block: transfer.blockNumber.toString() });
        transfer = await db.transfer.update({ where: { id: transfer.id }, data: { blockNumber: null } });
        broadcastDone = false;
      }
      const stuck = transfer.sentAt !== null && Date.now() - transfer.sentAt.getTime() > stuckAfterSeconds * 1_000;
      if (!broadcastDone || stuck) {
        transfer = await broadcastStored(db, chain, transfer, stuck);
        broadcastDone = true;
        if (transfer.status !== "sent") return transfer;
      }
    }
    if (Date.now() >= deadline) {
      // Waiting behind a nonce nothing will ever fill (a lost transaction, a dropped one): fill it.
      if (!found && transfer.nonce !== null && transfer.nonce > (await chain.getMinedNonce())) await repairNonceGaps({ db, chain });
      return transfer;
    }
    await sleep(Math.min(chain.pollingIntervalMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Broadcasts the stored bytes again. Refused as underpriced, or still unmined at the head of the
 * queue past the stuck threshold: replaced with higher fees. The nonce taken by a transaction
 * that is not one of ours: nothing was paid, so the transfer is signed anew with a new nonce.
 */
export async function broadcastStored(db: Db, chain: ChainClient, transfer: TransferRow, stuck = false): Promise<TransferRow> {
  try {
    await chain.broadcastSignedTx(transfer.signedTx as Hex);
    if (stuck && transfer.nonce === (await chain.getMinedNonce())) {
      return await replaceWithHigherFees(db, chain, transfer, `unmined for more than ${getEnv().TRANSFER_STUCK_AFTER_SECONDS} s at the head of the queue`);
    }
    return transfer;
  } catch (err) {
    if (!(err instanceof BroadcastRefusedError)) throw err;
    if (err.reason === "underpriced") return replaceWithHigherFees(db, chain, transfer, err.message);
    const found = await findReceipt(chain, transfer);
    if (found) return recordMined(db, transfer, found.hash, found.receipt.blockNumber);
    log.warn("another transaction took this transfer's nonce, so it was never paid; signing it anew", { transferId: transfer.id, nonce: transfer.nonce, txHash: transfer.txHash });
    const reset = await db.transfer.updateMany({
      where: { id: transfer.id, status: "sent", signedTx: transfer.signedTx },
      data: { status: "pending", signedTx: null, txHash: null, nonce: null, replacedTxHashes: [], blockNumber: null },
    });
    const row = await db.transfer.findUniqueOrThrow({ where: { id: transfer.id } });
    return reset.count === 1 ? signAndBroadcast(db, chain, row) : row;
  }
}

/** New bytes for the same nonce with fees that outbid the stored ones; the old hash is kept. */
async function replaceWithHigherFees(db: Db, chain: ChainClient, transfer: TransferRow, why: string): Promise<TransferRow> {
  const replaced = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${NONCE_LOCK_KEY})`;
    const row = await tx.transfer.findUniqueOrThrow({ where: { id: transfer.id } });
    // Someone else replaced or finished it meanwhile: theirs stands.
    if (row.status !== "sent" || row.signedTx !== transfer.signedTx || row.nonce === null) return null;
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: row.toAddress as Address, amount: row.amount, nonce: row.nonce, outbid: feeCapsOf(row.signedTx as Hex) });
    return tx.transfer.update({
      where: { id: row.id },
      data: { signedTx, txHash, replacedTxHashes: { push: row.txHash! }, sentAt: new Date(), attempts: { increment: 1 }, error: null },
    });
  });
  if (!replaced) return db.transfer.findUniqueOrThrow({ where: { id: transfer.id } });
  log.warn("transfer replaced with higher fees, same nonce", { transferId: replaced.id, nonce: replaced.nonce, why, replaces: transfer.txHash, txHash: replaced.txHash });
  await chain.broadcastSignedTx(replaced.signedTx as Hex);
  return replaced;
}

/** The next nonce nothing holds: past the chain's pending count and past every nonce we recorded. */
export async function nextFreeNonce(tx: DbTx, chain: ChainClient): Promise<number> {
  const chainNonce = await chain.getPendingNonce();
  const [row] = await tx.$queryRaw<{ highest: number | null }[]>`
    SELECT GREATEST((SELECT MAX(nonce) FROM transfers), (SELECT MAX(nonce) FROM nonce_fillers)) AS highest`;
  return Math.max(chainNonce, (row?.highest ?? -1) + 1);
}

async function signAndBroadcast(db: Db, chain: ChainClient, unsigned: TransferRow): Promise<TransferRow> {
  if (!unsigned.toAddress) {
    return db.transfer.update({ where: { id: unsigned.id }, data: { status: "skipped", error: "recipient has no wallet address" } });
  }
  const signed = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${NONCE_LOCK_KEY})`;
    const row = await tx.transfer.findUniqueOrThrow({ where: { id: unsigned.id } });
    // Another worker got here first and signed it: use theirs.
    if (row.status !== "pending" && row.status !== "waiting_for_funds") return { row, signedHere: false, wasWaiting: false };
    // Oldest first: nothing overtakes a transfer that is waiting for funds. Weighed under the
    // nonce lock, so what is in flight cannot change meanwhile.
    const older = await tx.transfer.findFirst({
      where: { status: "waiting_for_funds", id: { not: row.id }, OR: [{ createdAt: { lt: row.createdAt } }, { createdAt: row.createdAt, id: { lt: row.id } }] },
      select: { id: true },
    });
    const shortfall = older ? "an older transfer is waiting for the operations wallet to be topped up" : shortfallFor(await readOperationsFunds({ tx, chain }), row.amount);
    if (shortfall) {
      if (row.status === "pending") log.error("operations wallet cannot cover this transfer; it waits for funds", { transferId: row.id, kind: row.kind, amount: row.amount.toString(), why: shortfall });
      const waiting = await tx.transfer.update({ where: { id: row.id }, data: { status: "waiting_for_funds", error: shortfall } });
      return { row: waiting, signedHere: false, wasWaiting: false };
    }
    const nonce = await nextFreeNonce(tx, chain);
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: row.toAddress as Address, amount: row.amount, nonce });
    const updated = await tx.transfer.update({
      where: { id: row.id },
      data: { status: "sent", signedTx, txHash, nonce, replacedTxHashes: [], blockNumber: null, sentAt: new Date(), attempts: { increment: 1 }, error: null },
    });
    return { row: updated, signedHere: true, wasWaiting: row.status === "waiting_for_funds" };
  });
  if (!signed.signedHere) return signed.row;
  // The queue of waiting transfers moves one by one: the next oldest may go now too.
  if (signed.wasWaiting) await releaseNextWaitingTransfer(db);
  const transfer = await broadcastStored(db, chain, signed.row);
  log.info("transfer broadcast", { transferId: transfer.id, kind: transfer.kind, txHash: transfer.txHash, nonce: transfer.nonce, amount: transfer.amount.toString() });
  return transfer;
}

/** Queues the oldest transfer waiting for funds (the sweep does so every minute as well). */
export async function releaseNextWaitingTransfer(db: Db): Promise<void> {
  const next = await db.transfer.findFirst({ where: { status: "waiting_for_funds" }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true } });
  if (next) await enqueueSafely("sendTransfer", { transferId: next.id }, { singletonKey: next.id });
}

/** The version that was mined and its block, while it waits for its confirmations. */
async function recordMined(db: Db, transfer: TransferRow, hash: Hex, blockNumber: bigint): Promise<TransferRow> {
  if (transfer.txHash === hash && transfer.blockNumber === blockNumber) return transfer;
  return db.transfer.update({ where: { id: transfer.id }, data: { txHash: hash, blockNumber } });
}

/** Final: `success` (and a refund makes its job refunded) or `failed` when the chain reverted it. */
async function recordFinal(db: Db, transfer: TransferRow, status: "success" | "reverted"): Promise<TransferRow> {
  return db.$transaction(async (tx) => {
    const done = await tx.transfer.updateMany({
      where: { id: transfer.id, status: "sent" },
      data: status === "success" ? { status: "success", confirmedAt: new Date(), error: null, nextRetryAt: null } : { status: "failed", ...autoRetryPlan(transfer, `transaction reverted on chain (block ${transfer.blockNumber})`) },
    });
    const row = await tx.transfer.findUniqueOrThrow({ where: { id: transfer.id } });
    if (done.count === 0) return row;
    if (status === "reverted") {
      log.error("transfer reverted", { transferId: row.id, txHash: row.txHash, nextRetryAt: row.nextRetryAt, error: row.error });
      return row;
    }
    // The refund landing is what makes a job refunded (a terminal state).
    if (row.kind === "refund") {
      const job = await lockJob(tx, row.jobId);
      if (job.status === "expired" || job.status === "cancelled") {
        await transitionJob(tx, job, "refundConfirmed", { data: { tx_hash: row.txHash } });
      }
    }
    return row;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
