import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { AppError } from "~/server/errors";
import { sendTransferNow } from "~/server/services/transfers/send-transfer-now";
import { assertBuyer, lockJob, recordJobEvent } from "./job-state";
import { refundableAmount } from "./resolve-job";

/**
 * Returns an expired or cancelled job's deposit to the buyer, exactly once: the refund row's
 * idempotency key is unique per job, so a second call (even a concurrent one) finds it.
 */
export async function refundJob({ db, chain, actor, jobId }: { db: Db; chain: ChainClient; actor: { agentId: string; isAdmin?: boolean }; jobId: string }) {
  const transfer = await db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "refund it", true);
    const existing = await tx.transfer.findUnique({ where: { idempotencyKey: `refund:${jobId}` } });
    if (existing) {
      throw new AppError("ALREADY_REFUNDED", "This job's refund has already been requested", { refund_status: existing.status, refund_tx_hash: existing.txHash });
    }
    if (job.status !== "expired" && job.status !== "cancelled") {
      throw new AppError("JOB_NOT_REFUNDABLE", `Job is ${job.status}; only an expired or cancelled job can be refunded`, { status: job.status });
    }
    if (job.depositAmount === null) throw new AppError("JOB_NOT_REFUNDABLE", "Job was never funded; there is nothing to refund");
    const amount = await refundableAmount(tx, job);
    if (amount <= 0n) throw new AppError("JOB_NOT_REFUNDABLE", "Nothing of this job's deposit is left to refund");
    const judging = await tx.submission.count({ where: { jobId, status: "judging" } });
    if (judging > 0) throw new AppError("JUDGING_IN_PROGRESS", `${judging} submission(s) are being judged; try again when they are done`);
    const buyer = await tx.agent.findUniqueOrThrow({ where: { id: job.buyerId } });
    await recordJobEvent(tx, jobId, "refund_requested", { actor: actor.agentId, data: { amount: amount.toString() } });
    return tx.transfer.create({
      data: {
        jobId,
        kind: "refund",
        idempotencyKey: `refund:${jobId}`,
        agentId: buyer.id,
        // Back to the address the deposit came from (the buyer's wallet when it was funded).
        toAddress: job.depositFrom ?? buyer.walletAddress,
        amount,
        status: job.depositFrom ?? buyer.walletAddress ? "pending" : "skipped",
      },
    });
  });
  return sendTransferNow({ db, chain, transferId: transfer.id });
}
