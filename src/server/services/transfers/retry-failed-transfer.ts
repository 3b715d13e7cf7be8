import { getEnv } from "~/env";
import type { Db, DbTx } from "~/server/db";
import { lockJob, recordJobEvent } from "~/server/services/jobs/job-state";
import type { TransferRow } from "./send-transfer";

// Waits before each automatic re-send of a reverted transfer, in units of TRANSFER_RETRY_BASE_SECONDS
// (1 min, 5 min, 30 min, 2 h, 6 h by default); past the table the last step repeats.
const BACKOFF_STEPS = [1, 5, 30, 120, 360];

/**
 * What a transfer the chain reverted records: when it will be sent again automatically, or that
 * it now waits for an admin (after TRANSFER_AUTO_RETRIES automatic tries). A reverted transaction
 * moved nothing and is final (CONFIRMATIONS deep), so a new signature cannot pay twice.
 */
export function autoRetryPlan(transfer: Pick<TransferRow, "autoRetries">, reason: string): { error: string; nextRetryAt: Date | null } {
  const { TRANSFER_AUTO_RETRIES: limit, TRANSFER_RETRY_BASE_SECONDS: base } = getEnv();
  if (transfer.autoRetries >= limit) {
    return { error: `${reason}; gave up after ${limit} automatic retr${limit === 1 ? "y" : "ies"}: waits for an admin (POST /admin/jobs/{task_id}/retry-payout)`, nextRetryAt: null };
  }
  const step = BACKOFF_STEPS[Math.min(transfer.autoRetries, BACKOFF_STEPS.length - 1)]!;
  const nextRetryAt = new Date(Date.now() + step * base * 1_000);
  return { error: `${reason}; automatic retry ${transfer.autoRetries + 1} of ${limit} at ${nextRetryAt.toISOString()}`, nextRetryAt };
}

/**
 * The one way a failed or skipped transfer goes back to `pending` to be signed anew (new nonce,
 * no stored bytes): an admin's retry (the automatic count starts over) or an automatic one.
 */
export function resetForResend(tx: DbTx, transfer: Pick<TransferRow, "id">, { toAddress, automatic }: { toAddress: string; automatic: boolean }) {
  return tx.transfer.update({
    where: { id: transfer.id },
    data: {
      status: "pending",
      toAddress,
      error: null,
      signedTx: null,
      txHash: null,
      nonce: null,
      replacedTxHashes: [],
      blockNumber: null,
      nextRetryAt: null,
      autoRetries: automatic ? { increment: 1 } : 0,
    },
  });
}

/**
 * Reverted transfers whose next automatic retry is due go back to pending, under their job's
 * lock, with a `transfers_retried` event (actor `system`); the caller queues them.
 */
export async function retryDueTransfers({ db, limit = 100 }: { db: Db; limit?: number }): Promise<string[]> {
  const due = await db.transfer.findMany({
    where: { status: "failed", nextRetryAt: { lte: new Date() } },
    orderBy: { nextRetryAt: "asc" },
    select: { id: true, jobId: true },
    take: limit,
  });
  const retried: string[] = [];
  for (const { id, jobId } of due) {
    await db.$transaction(async (tx) => {
      await lockJob(tx, jobId);
      const transfer = await tx.transfer.findUniqueOrThrow({ where: { id } });
      if (transfer.status !== "failed" || !transfer.nextRetryAt || transfer.nextRetryAt > new Date() || !transfer.toAddress) return;
      await resetForResend(tx, transfer, { toAddress: transfer.toAddress, automatic: true });
      await recordJobEvent(tx, jobId, "transfers_retried", { actor: "system", reason: `automatic retry after: ${transfer.error ?? "a revert"}`, data: { transfer_ids: [id], automatic: true } });
      retried.push(id);
    });
  }
  return retried;
}
