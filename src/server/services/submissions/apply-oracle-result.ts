import type { Db } from "~/server/db";
import type { OracleStep } from "~/server/oracle/types";
import { enqueueSafely } from "~/server/jobs/client";
import { resolveJobWithWinner } from "~/server/services/jobs/resolve-job";
import { lockJob, recordJobEvent } from "~/server/services/jobs/job-state";

export interface Verdict {
  passed: boolean;
  score: number | null;
  reason: string;
  steps: OracleStep[];
  judgedBy: string;
}

/**
 * Records a verdict on a submission that is still judging. A verdict that arrives after the
 * submission was already decided (a timed-out evaluation answering late, a second reviewer)
 * changes nothing and reports applied: false.
 */
export async function applyVerdict({ db, submissionId, verdict }: { db: Db; submissionId: string; verdict: Verdict }) {
  const outcome = await db.$transaction(async (tx) => {
    const updated = await tx.submission.updateMany({
      where: { id: submissionId, status: "judging" },
      data: {
        status: verdict.passed ? "passed" : "failed",
        oracleScore: verdict.score,
        oracleReason: verdict.reason,
        oracleSteps: verdict.steps as object[],
        judgedBy: verdict.judgedBy,
        judgedAt: new Date(),
      },
    });
    if (updated.count === 0) return { applied: false as const, won: false, transferIds: [] as string[] };
    const submission = await tx.submission.findUniqueOrThrow({ where: { id: submissionId } });
    // A pass changes the job: lock its row before writing to its log. Inserting the event takes
    // a key-share lock on the job, and upgrading that to the resolver's row lock deadlocks
    // against another verdict doing the same.
    if (verdict.passed) await lockJob(tx, submission.jobId);
    // In the job's log (and so to webhooks as submission.completed), pass or fail.
    await recordJobEvent(tx, submission.jobId, "submission_judged", {
      actor: verdict.judgedBy,
      reason: verdict.reason,
      data: { submission_id: submission.id, worker_id: submission.workerId, attempt: submission.attempt, passed: verdict.passed, score: verdict.score },
    });
    if (!verdict.passed) return { applied: true as const, won: false, transferIds: [] as string[] };
    const resolution = await resolveJobWithWinner(tx, submission, verdict.judgedBy);
    return { applied: true as const, won: resolution.won, transferIds: resolution.transferIds };
  });
  for (const transferId of outcome.transferIds) {
    await enqueueSafely("sendTransfer", { transferId }, { singletonKey: transferId });
  }
  return outcome;
}

/** Manual mode: keep the deterministic steps visible while the submission waits for review. */
export async function recordPendingReview({ db, submissionId, steps }: { db: Db; submissionId: string; steps: OracleStep[] }) {
  await db.submission.updateMany({ where: { id: submissionId, status: "judging" }, data: { oracleSteps: steps as object[] } });
}
