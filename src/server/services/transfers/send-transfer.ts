import { log } from "~/server/log";
import type { Address, Hex } from "viem";
import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { lockJob, transitionJob } from "~/server/services/jobs/job-state";

// One advisory-lock key for "allocating the operations wallet's next nonce".
const NONCE_LOCK_KEY = 7_300_001;

type TransferRow = NonNullable<Awaited<ReturnType<Db["transfer"]["findUnique"]>>>;


/**
 * Sends one recorded transfer, exactly once. The row already exists (status pending). We sign
 * with an allocated nonce and store the signed bytes before broadcasting; any later attempt
 * (a retry, a second worker, a restart after a crash) finds the stored bytes and rebroadcasts
 * or confirms them instead of signing a second payment.
 */
export async function sendTransfer({ db, chain, transferId, waitMs = 30_000 }: { db: Db; chain: ChainClient; transferId: string; waitMs?: number }): Promise<TransferRow> {
  let transfer = await db.transfer.findUnique({ where: { id: transferId } });
  if (!transfer) throw new Error(`transfer ${transferId} not found`);
  if (transfer.status === "success" || transfer.status === "skipped") return transfer;

  if (transfer.status === "sent" && transfer.txHash && transfer.signedTx) {
    const receipt = await chain.getTransferReceipt(transfer.txHash as Hex);
    if (receipt) return recordReceipt(db, transfer, receipt.status);
    try {
      await chain.broadcastSignedTx(transfer.signedTx as Hex);
    } catch (err) {
      // The nonce was used by something else, so these bytes can never be mined: sign anew.
      if (!/nonce too low|nonce.*already/i.test(String(err))) throw err;
      const again = await chain.getTransferReceipt(transfer.txHash as Hex);
      if (again) return recordReceipt(db, transfer, again.status);
      log.warn("stored transfer can never be mined; signing a replacement", { transferId, txHash: transfer.txHash });
      transfer = await db.transfer.update({ where: { id: transferId }, data: { status: "pending", signedTx: null, txHash: null, nonce: null } });
      return signAndSend(db, chain, transfer, waitMs);
    }
    return waitAndRecord(db, chain, transfer, waitMs);
  }
  return signAndSend(db, chain, transfer, waitMs);
}

async function signAndSend(db: Db, chain: ChainClient, pending: TransferRow, waitMs: number): Promise<TransferRow> {
  if (!pending.toAddress) {
    return db.transfer.update({ where: { id: pending.id }, data: { status: "skipped", error: "recipient has no wallet address" } });
  }
  await warnIfShort(chain, pending);
  const signed = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${NONCE_LOCK_KEY})`;
    const row = await tx.transfer.findUniqueOrThrow({ where: { id: pending.id } });
    // Another worker got here first and signed it: use theirs.
    if (row.status !== "pending" && row.status !== "failed") return row;
    const chainNonce = await chain.getPendingNonce();
    const highest = await tx.transfer.aggregate({ _max: { nonce: true }, where: { nonce: { not: null }, status: { in: ["sent", "success"] } } });
    const nonce = Math.max(chainNonce, (highest._max.nonce ?? -1) + 1);
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: row.toAddress as Address, amount: row.amount, nonce });
    return tx.transfer.update({
      where: { id: row.id },
      data: { status: "sent", signedTx, txHash, nonce, sentAt: new Date(), attempts: { increment: 1 }, error: null },
    });
  });
  if (signed.status !== "sent" || !signed.signedTx) return signed;
  await chain.broadcastSignedTx(signed.signedTx as Hex);
  log.info("transfer broadcast", { transferId: signed.id, kind: signed.kind, txHash: signed.txHash, amount: signed.amount.toString() });
  return waitAndRecord(db, chain, signed, waitMs);
}

/**
 * G21: say so in the log when the operations wallet runs low. Below the amount the transfer will
 * revert (recorded as failed; an admin can retry it once the wallet is topped up); below twice
 * the amount the next ones will. The send goes ahead either way: the chain is the judge.
 */
async function warnIfShort(chain: ChainClient, transfer: TransferRow): Promise<void> {
  const balance = await chain.getUsdcBalance(chain.opsAddress as Address).catch(() => null);
  if (balance === null || balance >= transfer.amount * 2n) return;
  const fields = { transferId: transfer.id, kind: transfer.kind, amount: transfer.amount.toString(), balance: balance.toString() };
  if (balance < transfer.amount) log.error("operations wallet cannot cover this transfer; it will revert", fields);
  else log.warn("operations wallet is below twice this transfer", fields);
}

async function waitAndRecord(db: Db, chain: ChainClient, sent: TransferRow, waitMs: number): Promise<TransferRow> {
  const receipt = await chain.waitForTransferReceipt(sent.txHash as Hex, waitMs).catch(() => null);
  if (!receipt) return sent;
  return recordReceipt(db, sent, receipt.status);
}

async function recordReceipt(db: Db, transfer: TransferRow, status: "success" | "reverted"): Promise<TransferRow> {
  if (status === "success") {
    return db.$transaction(async (tx) => {
      const confirmed = await tx.transfer.update({ where: { id: transfer.id }, data: { status: "success", confirmedAt: new Date() } });
      // The refund landing is what makes a job refunded (a terminal state).
      if (confirmed.kind === "refund") {
        const job = await lockJob(tx, confirmed.jobId);
        if (job.status === "expired" || job.status === "cancelled") {
          await transitionJob(tx, job, "refunded", { actor: "system", reason: "refund confirmed on chain", data: { tx_hash: confirmed.txHash } });
        }
      }
      return confirmed;
    });
  }
  log.error("transfer reverted", { transferId: transfer.id, txHash: transfer.txHash });
  return db.transfer.update({ where: { id: transfer.id }, data: { status: "failed", error: "transaction reverted on chain" } });
}
