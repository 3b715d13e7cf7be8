import type { Job, Transfer } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { AppError } from "~/server/errors";
import { sendTransferNow } from "~/server/services/transfers/send-transfer-now";
import { assertBuyer, lockJob, recordJobEvent } from "./job-state";
import { refundableAmount } from "./resolve-job";

/**
 * The one rule for returning a job's deposit, used by the buyer's POST /refund and by the
 * automatic refund at expiry (expire-jobs.ts). Runs under the job lock the caller holds and
 * records the refund (event `refund_requested`, then a transfer row) before anything is sent:
 * - at most once: the refund row's idempotency key `refund:<job>` is unique, so a second call
 *   (even a concurrent one, or the sweep racing the buyer) finds it (ALREADY_REFUNDED);
 * - only an expired or cancelled job that was funded, with something of the deposit left
 *   (refundableAmount: after winners' shares and anything already returned);
 * - never while a delivery is being judged (JUDGING_IN_PROGRESS): its verdict decides first;
 * - back to the address the deposit came from (deposit_from), else the buyer's current wallet,
 *   else recorded `skipped`.
 */
export async function recordRefund(tx: DbTx, { job, actor, reason }: { job: Job; actor: string; reason?: string }): Promise<Transfer> {
  const existing = await tx.transfer.findUnique({ where: { idempotencyKey: `refund:${job.id}` } });
  if (existing) {
    throw new AppError("ALREADY_REFUNDED", "This job's refund has already been requested", { refund_status: existing.status, refund_tx_hash: existing.txHash });
  }
  if (job.status !== "expired" && job.status !== "cancelled") {
    throw new AppError("JOB_NOT_REFUNDABLE", `Job is ${job.status}; only an expired or cancelled job can be refunded`, { status: job.status });
  }
  if (job.depositAmount === null) throw new AppError("JOB_NOT_REFUNDABLE", "Job was never funded; there is nothing to refund");
  const amount = await refundableAmount(tx, job);
  if (amount <= 0n) throw new AppError("JOB_NOT_REFUNDABLE", "Nothing of this job's deposit is left to refund");
  const judging = await tx.submission.count({ where: { jobId: job.id, status: "judging" } });
  if (judging > 0) throw new AppError("JUDGING_IN_PROGRESS", `${judging} submission(s) are being judged; try again when they are done`);
  const buyer = await tx.agent.findUniqueOrThrow({ where: { id: job.buyerId } });
  await recordJobEvent(tx, job.id, "refund_requested", { actor, reason, data: { amount: amount.toString() } });
  const to = job.depositFrom ?? buyer.walletAddress;
  return tx.transfer.create({
    data: { jobId: job.id, kind: "refund", idempotencyKey: `refund:${job.id}`, agentId: buyer.id, toAddress: to, amount, status: to ? "pending" : "skipped" },
  });
}

/** The buyer (or an admin agent) asks for an expired or cancelled job's deposit back; sent inline. */
export async function refundJob({ db, chain, actor, jobId }: { db: Db; chain: ChainClient; actor: { agentId: string; isAdmin?: boolean }; jobId: string }) {
  const transfer = await db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "refund it", true);
    return recordRefund(tx, { job, actor: actor.agentId });
  });
  return sendTransferNow({ db, chain, transferId: transfer.id });
}
