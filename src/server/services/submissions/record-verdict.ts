import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/services/jobs/job-state";
import { applyVerdict } from "./apply-oracle-result";
import type { OracleStep } from "~/server/oracle/types";

/**
 * A human verdict. In manual mode the buyer or an admin decides. When a model judges, the
 * buyer may still accept a submission early, but only the model or an admin can fail one.
 */
export async function recordVerdict({
  db,
  actor,
  submissionId,
  passed,
  score,
  reason,
}: {
  db: Db;
  actor: { agentId: string; isAdmin: boolean };
  submissionId: string;
  passed: boolean;
  score?: number;
  reason: string;
}) {
  const submission = isUuid(submissionId) ? await db.submission.findUnique({ where: { id: submissionId }, include: { job: { select: { buyerId: true } } } }) : null;
  if (!submission) throw new AppError("SUBMISSION_NOT_FOUND", `Submission '${submissionId}' not found`);
  const isBuyer = submission.job.buyerId === actor.agentId;
  if (!isBuyer && !actor.isAdmin) throw new AppError("FORBIDDEN", "Only the job's buyer or an admin may give a verdict");
  if (submission.oracleMode === "llm" && !passed && !actor.isAdmin) {
    throw new AppError("FORBIDDEN", "This job is judged by the model: the buyer may accept a submission early, but only the model or an admin can fail it");
  }
  if (submission.status !== "judging") {
    throw new AppError("SUBMISSION_ALREADY_JUDGED", `Submission is already ${submission.status}`, { status: submission.status });
  }
  const judgedBy = actor.isAdmin && !isBuyer ? `admin:${actor.agentId}` : `buyer:${actor.agentId}`;
  const previousSteps = (Array.isArray(submission.oracleSteps) ? submission.oracleSteps : []) as unknown as OracleStep[];
  const steps: OracleStep[] = [
    ...previousSteps.filter((s) => s.name !== "manual_review"),
    { name: "manual_review", passed, detail: `${judgedBy}: ${reason}`, ...(score !== undefined ? { score } : {}) },
  ];
  const outcome = await applyVerdict({ db, submissionId, verdict: { passed, score: score ?? (passed ? 100 : 0), reason, steps, judgedBy } });
  if (!outcome.applied) throw new AppError("SUBMISSION_ALREADY_JUDGED", "Submission was judged in the meantime");
  return { submission: await db.submission.findUniqueOrThrow({ where: { id: submissionId } }), won: outcome.won };
}
