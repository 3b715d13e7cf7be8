import type { DbTx } from "~/server/db";
import { getEnv } from "~/env";
import { splitFee } from "~/server/money";
import { lockJob } from "./job-state";

/**
 * Called inside the transaction that marks a submission passed. The job row lock makes the
 * first passing submission the only winner; the payout and fee rows are written here, in the
 * same transaction, so a resolved job always has its transfers recorded before any is sent.
 */
export async function resolveJobWithWinner(tx: DbTx, submission: { id: string; jobId: string; workerId: string; content: string; createdAt: Date }) {
  const job = await lockJob(tx, submission.jobId);
  const submittedInTime = submission.createdAt.getTime() < job.expiry.getTime();
  const stillOpenForWinner = job.status === "funded" || (job.status === "expired" && submittedInTime && job.winnerId === null);
  if (!stillOpenForWinner) return { won: false as const, transferIds: [] };

  const worker = await tx.agent.findUniqueOrThrow({ where: { id: submission.workerId } });
  const { net, fee } = splitFee(job.price, job.feeBps);
  await tx.job.update({
    where: { id: job.id },
    data: { status: "resolved", winnerId: worker.id, winningSubmissionId: submission.id, resultData: submission.content, resolvedAt: new Date() },
  });
  const completed = worker.jobsCompleted + 1;
  await tx.agent.update({
    where: { id: worker.id },
    data: {
      jobsCompleted: completed,
      totalEarned: { increment: worker.walletAddress ? net : 0n },
      reputation: Math.min(1, completed / Math.max(worker.jobsClaimed, 1)),
    },
  });
  const payout = await tx.transfer.create({
    data: {
      jobId: job.id,
      kind: "payout",
      idempotencyKey: `payout:${job.id}:${worker.id}`,
      agentId: worker.id,
      toAddress: worker.walletAddress,
      amount: net,
      status: worker.walletAddress ? "pending" : "skipped",
      error: worker.walletAddress ? null : "worker has no wallet address",
    },
  });
  const transferIds = [payout.id];
  if (fee > 0n) {
    const feeRow = await tx.transfer.create({
      data: { jobId: job.id, kind: "fee", idempotencyKey: `fee:${job.id}`, toAddress: getEnv().TREASURY_ADDRESS, amount: fee },
    });
    transferIds.push(feeRow.id);
  }
  return { won: true as const, transferIds };
}
