import type { DbTx, Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid, lockJob, recordJobEvent } from "~/server/services/jobs/job-state";

/**
 * When a job's money settled: it resolved, or its refund was confirmed on chain. The earliest
 * of the two counts, so a later dispute resolution cannot reopen the window it is measured by.
 */
export async function settledAt(tx: DbTx, job: { id: string; resolvedAt: Date | null }): Promise<Date | null> {
  const refund = await tx.transfer.findFirst({
    where: { jobId: job.id, kind: "refund", status: "success", confirmedAt: { not: null } },
    orderBy: { confirmedAt: "asc" },
    select: { confirmedAt: true },
  });
  const times = [job.resolvedAt, refund?.confirmedAt ?? null].filter((d): d is Date => d !== null);
  return times.length === 0 ? null : new Date(Math.min(...times.map((d) => d.getTime())));
}

/**
 * A party to a job asks an admin to look again at how it ended (#34, G24): its buyer, or a
 * worker who submitted to it. One open dispute per (job, filer); refused once the money settled
 * more than DISPUTE_WINDOW_HOURS ago. The job row lock serialises filings, so two concurrent
 * requests from the same filer cannot both open one.
 */
export async function fileDispute({
  db,
  actor,
  jobId,
  reason,
  submissionId,
  windowHours,
  now = new Date(),
}: {
  db: Db;
  actor: { agentId: string };
  jobId: string;
  reason: string;
  submissionId?: string;
  windowHours: number;
  now?: Date;
}) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    const isBuyer = job.buyerId === actor.agentId;
    if (!isBuyer) {
      const submitted = await tx.submission.count({ where: { jobId, workerId: actor.agentId } });
      if (submitted === 0) throw new AppError("FORBIDDEN", "Only the job's buyer or a worker who submitted to it may dispute it");
    }
    // Nothing was ever at stake on a job that was never funded.
    if (job.depositAmount === null) throw new AppError("JOB_NOT_FUNDED", "Job was never funded; there is nothing to dispute", { status: job.status });

    if (submissionId !== undefined) {
      const submission = isUuid(submissionId) ? await tx.submission.findFirst({ where: { id: submissionId, jobId } }) : null;
      if (!submission) throw new AppError("SUBMISSION_NOT_FOUND", `Submission '${submissionId}' not found on this job`, { field: "submission_id" });
      // A worker argues about their own work; the buyer may point at anyone's.
      if (!isBuyer && submission.workerId !== actor.agentId) {
        throw new AppError("FORBIDDEN", "A worker may only name their own submission", { field: "submission_id" });
      }
    }

    const open = await tx.dispute.findFirst({ where: { jobId, filedBy: actor.agentId, status: "open" }, select: { id: true } });
    if (open) throw new AppError("DISPUTE_ALREADY_OPEN", "You already have an open dispute on this job", { dispute_id: open.id });

    const settled = await settledAt(tx, job);
    if (settled && now.getTime() - settled.getTime() > windowHours * 3_600_000) {
      throw new AppError("DISPUTE_WINDOW_CLOSED", `This job settled more than ${windowHours} hours ago; it can no longer be disputed`, {
        settled_at: settled.toISOString(),
        window_hours: windowHours,
      });
    }

    const dispute = await tx.dispute.create({ data: { jobId, filedBy: actor.agentId, submissionId: submissionId ?? null, reason } });
    await recordJobEvent(tx, jobId, "dispute_filed", {
      actor: actor.agentId,
      reason,
      data: { dispute_id: dispute.id, submission_id: submissionId ?? null },
    });
    return dispute;
  });
}
