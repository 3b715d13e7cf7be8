import type { Agent, Transfer } from "~/generated/prisma/client";
import type { DbTx } from "~/server/db";
import { getEnv } from "~/env";
import { splitFee } from "~/server/money";
import { isWorkable, lockJob, recordJobEvent, transitionJob } from "./job-state";

/** Each of max_winners winners gets an equal share; the last takes the indivisible remainder. */
export function winnerShare(price: bigint, maxWinners: number, winnerIndex: number): bigint {
  const share = price / BigInt(maxWinners);
  return winnerIndex === maxWinners - 1 ? price - share * BigInt(maxWinners - 1) : share;
}

/**
 * Called inside the transaction that marks a submission passed. The job row lock makes the
 * first max_winners passing submissions (one per worker) the only winners; each winner's payout
 * and fee rows are written here, in the same transaction, so they are recorded before any is sent.
 */
export async function resolveJobWithWinner(
  tx: DbTx,
  submission: { id: string; jobId: string; workerId: string; content: string; createdAt: Date },
  /** Who decided: "oracle", "buyer:<id>" or "admin:<id>", for the event log. */
  decidedBy = "oracle",
) {
  const job = await lockJob(tx, submission.jobId);
  const submittedInTime = submission.createdAt.getTime() < job.expiry.getTime();
  const refundRequested = await tx.transfer.count({ where: { jobId: job.id, kind: "refund" } });
  const acceptsWinner = isWorkable(job.status) || (job.status === "expired" && submittedInTime && refundRequested === 0);
  if (!acceptsWinner) return { won: false as const, transferIds: [] };
  const winners = await tx.submission.findMany({ where: { jobId: job.id, isWinner: true }, select: { workerId: true } });
  if (winners.length >= job.maxWinners || winners.some((w) => w.workerId === submission.workerId)) {
    return { won: false as const, transferIds: [] };
  }

  const worker = await tx.agent.findUniqueOrThrow({ where: { id: submission.workerId } });
  const gross = winnerShare(job.price, job.maxWinners, winners.length);
  await tx.submission.update({ where: { id: submission.id }, data: { isWinner: true } });
  const first = winners.length === 0;
  const last = winners.length + 1 === job.maxWinners;
  const winnerFields = first ? { winnerId: worker.id, winningSubmissionId: submission.id, resultData: submission.content } : {};
  await recordJobEvent(tx, job.id, "winner_selected", { actor: decidedBy, data: { worker_id: worker.id, submission_id: submission.id, amount: gross.toString() } });
  if (last) {
    await transitionJob(tx, job, "resolve", { actor: decidedBy, reason: `${job.maxWinners} passing submission(s)` }, { ...winnerFields, resolvedAt: new Date() });
  } else if (first) {
    await tx.job.update({ where: { id: job.id }, data: winnerFields });
  }

  const transfers = await payWinnerShare(tx, { jobId: job.id, worker, gross, feeBps: job.feeBps, keys: { payout: `payout:${job.id}:${worker.id}`, fee: `fee:${job.id}:${worker.id}` } });
  return { won: true as const, transferIds: transfers.map((t) => t.id) };
}

/**
 * Credits a winner (reputation, earnings) and records their share as a payout to their wallet
 * (skipped without one) and the fee to the treasury: the rows are written here, inside the
 * caller's transaction, and sent after it commits. Used for oracle wins and overturned disputes.
 */
export async function payWinnerShare(
  tx: DbTx,
  { jobId, worker, gross, feeBps, keys }: { jobId: string; worker: Agent; gross: bigint; feeBps: number; keys: { payout: string; fee: string } },
): Promise<Transfer[]> {
  const { net, fee } = splitFee(gross, feeBps);
  const completed = worker.jobsCompleted + 1;
  await tx.agent.update({
    where: { id: worker.id },
    data: {
      jobsCompleted: completed,
      totalEarned: { increment: worker.walletAddress ? net : 0n },
      reputation: Math.min(1, completed / Math.max(worker.jobsClaimed, 1)),
    },
  });
  const transfers = [
    await tx.transfer.create({
      data: {
        jobId,
        kind: "payout",
        idempotencyKey: keys.payout,
        agentId: worker.id,
        toAddress: worker.walletAddress,
        amount: net,
        status: worker.walletAddress ? "pending" : "skipped",
        error: worker.walletAddress ? null : "worker has no wallet address",
      },
    }),
  ];
  if (fee > 0n) {
    transfers.push(await tx.transfer.create({ data: { jobId, kind: "fee", idempotencyKey: keys.fee, agentId: worker.id, toAddress: getEnv().TREASURY_ADDRESS, amount: fee } }));
  }
  return transfers;
}

/** What is left of a job's deposit after winners' shares and anything already returned. */
export async function refundableAmount(tx: DbTx, job: { id: string; depositAmount: bigint | null }): Promise<bigint> {
  if (job.depositAmount === null) return 0n;
  const spent = await tx.transfer.aggregate({ _sum: { amount: true }, where: { jobId: job.id, kind: { in: ["payout", "fee", "excess_refund", "refund"] } } });
  return job.depositAmount - (spent._sum.amount ?? 0n);
}
