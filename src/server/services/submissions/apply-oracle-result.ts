import type { Db } from "~/server/db";
import type { OracleStep } from "~/server/oracle/types";
import { enqueueSafely } from "~/server/jobs/client";
import { resolveJobWithWinner } from "~/server/services/jobs/resolve-job";

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
    if (!verdict.passed) return { applied: true as const, won: false, transferIds: [] as string[] };
    const submission = await tx.submission.findUniqueOrThrow({ where: { id: submissionId } });
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
