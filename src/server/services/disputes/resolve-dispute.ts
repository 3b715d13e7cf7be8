import type { Dispute, DisputeResolution, Job, Transfer } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import { AppError } from "~/server/errors";
import { enqueueSafely } from "~/server/jobs/client";
import { isUuid, isWorkable, lockJob, recordJobEvent, transitionJob } from "~/server/services/jobs/job-state";
import { payWinnerShare, refundableAmount, winnerShare } from "~/server/services/jobs/resolve-job";

/** Who decides: an admin agent's id, or `owner:<id>` for an admin signed in to the console. */
type Admin = { id: string };

interface Effect {
  job: Job;
  transfers: Transfer[];
  data: Record<string, string | null>;
}

/**
 * An admin decides an open dispute (#34, G24). Everything happens in one transaction under the
 * job's row lock, which every path that pays or refunds a job also takes: the dispute is marked
 * resolved (only if still open, so two concurrent resolutions pay once), the job's log gets a
 * 'dispute_resolved' event, and any money to move is recorded as Transfer rows with unique
 * idempotency keys. They are sent after commit by the background runner; the sweep re-queues
 * any that were not picked up.
 */
export async function resolveDispute({
  db,
  actor,
  disputeId,
  resolution,
  workerId,
  note,
}: {
  db: Db;
  actor: Admin;
  disputeId: string;
  resolution: DisputeResolution;
  workerId?: string;
  note: string;
}) {
  const found = isUuid(disputeId) ? await db.dispute.findUnique({ where: { id: disputeId }, select: { jobId: true } }) : null;
  if (!found) throw new AppError("DISPUTE_NOT_FOUND", `Dispute '${disputeId}' not found`);

  const outcome = await db.$transaction(async (tx) => {
    const job = await lockJob(tx, found.jobId);
    // Read under the job lock: a concurrent resolution of the same dispute has committed by now.
    const dispute = await tx.dispute.findUniqueOrThrow({ where: { id: disputeId } });
    if (dispute.status !== "open") {
      throw new AppError("DISPUTE_NOT_OPEN", `Dispute is already resolved (${dispute.resolution})`, {
        resolution: dispute.resolution,
        resolved_at: dispute.resolvedAt?.toISOString() ?? null,
      });
    }

    let effect: Effect;
    if (resolution === "overturn_to_worker") effect = await overturnToWorker(tx, { job, dispute, workerId, actor });
    else if (resolution === "refund_buyer") effect = await refundBuyer(tx, { job, dispute, actor });
    else effect = { job, transfers: [], data: {} };

    const marked = await tx.dispute.updateMany({
      where: { id: disputeId, status: "open" },
      data: { status: "resolved", resolution, resolutionNote: note, resolvedBy: actor.id, resolvedAt: new Date() },
    });
    if (marked.count !== 1) throw new AppError("DISPUTE_NOT_OPEN", "Dispute was resolved in the meantime");
    await recordJobEvent(tx, job.id, "dispute_resolved", {
      actor: actor.id,
      reason: note,
      data: { dispute_id: disputeId, resolution, ...effect.data, transfer_ids: effect.transfers.map((t) => t.id) },
    });
    return {
      dispute: await tx.dispute.findUniqueOrThrow({ where: { id: disputeId } }),
      job: effect.job,
      transfers: effect.transfers,
    };
  });

  for (const transfer of outcome.transfers) {
    if (transfer.status === "pending") await enqueueSafely("sendTransfer", { transferId: transfer.id }, { singletonKey: transfer.id });
  }
  return outcome;
}

/**
 * The oracle (or the buyer's manual verdict) was wrong about this worker: pay them one winner
 * share, as resolveJobWithWinner would have, and take the buyer's refund of that share away.
 * - funded/claimed/expired/cancelled with a share left: the worker takes the next share; when it
 *   is the last one the job becomes resolved (reason 'dispute overturned'), so no refund of the
 *   price is possible any more. With shares still left (max_winners > 1) the job stays as it is
 *   and the buyer's later refund is smaller by this share (refundableAmount counts payouts).
 * - resolved with every share already paid: the operations wallet pays the extra share; the
 *   platform bears the cost of the wrong verdict, the earlier winners keep theirs.
 * - a refund already recorded (sent or not): refused, the money has gone back to the buyer.
 */
async function overturnToWorker(
  tx: DbTx,
  { job, dispute, workerId, actor }: { job: Job; dispute: Dispute; workerId?: string; actor: Admin },
): Promise<Effect> {
  const named = dispute.submissionId ? await tx.submission.findUnique({ where: { id: dispute.submissionId } }) : null;
  const filerIsWorker = dispute.filedBy !== job.buyerId;
  const winnerId = workerId ?? (filerIsWorker ? dispute.filedBy : named?.workerId);
  if (!winnerId) {
    throw new AppError("VALIDATION_FAILED", "worker_id: is required when the buyer filed the dispute without naming a submission", { field: "worker_id" });
  }
  const theirs = await tx.submission.findMany({ where: { jobId: job.id, workerId: winnerId }, orderBy: { attempt: "desc" } });
  if (theirs.length === 0) {
    throw new AppError("VALIDATION_FAILED", `worker_id: '${winnerId}' has no submission on this job`, { field: "worker_id" });
  }
  // The submission the dispute is about, if it is theirs; else their latest attempt.
  const submission = named && named.workerId === winnerId ? named : theirs[0]!;

  const refund = await tx.transfer.findFirst({ where: { jobId: job.id, kind: "refund" } });
  if (refund) {
    throw new AppError("DISPUTE_REFUND_ALREADY_SENT", "The buyer's refund of this job has already been recorded; the money went back to the buyer and cannot also pay a worker", {
      refund_status: refund.status,
      refund_tx_hash: refund.txHash,
    });
  }
  const winners = await tx.submission.findMany({ where: { jobId: job.id, isWinner: true }, select: { workerId: true } });
  if (winners.some((w) => w.workerId === winnerId)) {
    throw new AppError("DISPUTE_WORKER_ALREADY_WON", `'${winnerId}' is already a winner of this job and has been paid`, { worker_id: winnerId });
  }
  const settles = job.status === "resolved" || isWorkable(job.status) || job.status === "expired" || job.status === "cancelled";
  if (!settles) throw new AppError("CONFLICT", `Job is ${job.status}; it cannot be overturned to a worker`, { status: job.status });

  const shareLeft = winners.length < job.maxWinners;
  const gross = winnerShare(job.price, job.maxWinners, shareLeft ? winners.length : 0);
  const worker = await tx.agent.findUniqueOrThrow({ where: { id: winnerId } });

  await tx.submission.update({ where: { id: submission.id }, data: { isWinner: true } });
  const winnerFields = job.winnerId === null ? { winnerId, winningSubmissionId: submission.id, resultData: submission.content } : {};
  await recordJobEvent(tx, job.id, "winner_selected", {
    actor: actor.id,
    reason: "dispute overturned",
    data: { worker_id: winnerId, submission_id: submission.id, amount: gross.toString(), dispute_id: dispute.id },
  });
  let updated = job;
  const lastShare = shareLeft && winners.length + 1 === job.maxWinners;
  if (lastShare && job.status !== "resolved") {
    updated = await transitionJob(tx, job, "overturn", { actor: actor.id, data: { dispute_id: dispute.id } }, { ...winnerFields, resolvedAt: new Date() });
  } else if (job.winnerId === null) {
    updated = await tx.job.update({ where: { id: job.id }, data: winnerFields });
  }

  // The same credit and the same recorded payout an oracle win gives.
  const transfers = await payWinnerShare(tx, { jobId: job.id, worker, gross, feeBps: job.feeBps, keys: { payout: `dispute:${dispute.id}:payout`, fee: `dispute:${dispute.id}:fee` } });
  return {
    job: updated,
    transfers,
    data: { worker_id: winnerId, submission_id: submission.id, amount: gross.toString(), funded_by: shareLeft ? "deposit" : "platform" },
  };
}

/**
 * The buyer should not have paid: return their money.
 * - nothing paid out yet: what is left of the deposit (refundableAmount). A funded/claimed job is
 *   cancelled first, so it follows the normal path: cancelled -> refunded when the refund confirms
 *   (send-transfer does that for expired and cancelled jobs).
 * - a winner already paid: the operations wallet refunds the full price anyway, plus any excess
 *   deposit not yet returned (this is the job's one refund, so POST /refund-excess is closed
 *   after it); the platform bears the price and the worker keeps what they were paid. A resolved
 *   job stays resolved.
 * The refund takes the job's own refund key `refund:{task_id}`, not a dispute-scoped one: it IS
 * the job's one refund, so the buyer's POST /jobs/{id}/refund (which looks for that key) and any
 * later dispute find it and refuse, instead of returning the deposit a second time.
 */
async function refundBuyer(tx: DbTx, { job, dispute, actor }: { job: Job; dispute: Dispute; actor: Admin }): Promise<Effect> {
  const existing = await tx.transfer.findFirst({ where: { jobId: job.id, kind: "refund" } });
  if (existing) {
    throw new AppError("DISPUTE_REFUND_ALREADY_SENT", "This job's refund has already been recorded", { refund_status: existing.status, refund_tx_hash: existing.txHash });
  }
  if (job.depositAmount === null) throw new AppError("JOB_NOT_REFUNDABLE", "Job was never funded; there is nothing to refund");
  const paidOut = await tx.transfer.count({ where: { jobId: job.id, kind: "payout" } });
  const amount = paidOut > 0 ? job.price + (await unreturnedExcess(tx, job)) : await refundableAmount(tx, job);
  if (amount <= 0n) throw new AppError("JOB_NOT_REFUNDABLE", "Nothing of this job's deposit is left to refund");

  let updated = job;
  if (isWorkable(job.status)) {
    updated = await transitionJob(tx, job, "disputeRefund", { actor: actor.id, data: { dispute_id: dispute.id } }, { cancelledAt: new Date() });
  } else if (job.status !== "expired" && job.status !== "cancelled" && job.status !== "resolved") {
    throw new AppError("JOB_NOT_REFUNDABLE", `Job is ${job.status}; it cannot be refunded`, { status: job.status });
  }

  const buyer = await tx.agent.findUniqueOrThrow({ where: { id: job.buyerId } });
  // Back to the address that paid, like every other refund.
  const to = job.depositFrom ?? buyer.walletAddress;
  const fundedBy = paidOut > 0 ? "platform" : "deposit";
  await recordJobEvent(tx, job.id, "refund_requested", { actor: actor.id, reason: "dispute: refund to buyer", data: { amount: amount.toString(), dispute_id: dispute.id, funded_by: fundedBy } });
  const refund = await tx.transfer.create({
    data: { jobId: job.id, kind: "refund", idempotencyKey: `refund:${job.id}`, agentId: buyer.id, toAddress: to, amount, status: to ? "pending" : "skipped" },
  });
  return { job: updated, transfers: [refund], data: { amount: amount.toString(), funded_by: fundedBy } };
}

/** What the buyer deposited beyond the price and has not had back through POST /refund-excess. */
async function unreturnedExcess(tx: DbTx, job: Job): Promise<bigint> {
  const excess = (job.depositAmount ?? 0n) - job.price;
  if (excess <= 0n) return 0n;
  const returned = await tx.transfer.aggregate({ _sum: { amount: true }, where: { jobId: job.id, kind: "excess_refund" } });
  const left = excess - (returned._sum.amount ?? 0n);
  return left > 0n ? left : 0n;
}
