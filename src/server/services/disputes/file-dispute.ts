import type { DbTx, Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid, lockJob, recordJobEvent } from "~/server/services/jobs/job-state";

/**
 * When a job's money settled: it resolved, or its refund was confirmed on chain. The earliest
 * of the two counts, so a later dispute resolution cannot reopen the window it is measured by.
 * `refunds` are the job's transfers (any kinds; only confirmed refunds count).
 */
export function settlementTime(job: { resolvedAt: Date | null }, refunds: { kind: string; status: string; confirmedAt: Date | null }[]): Date | null {
  const confirmed = refunds.filter((t) => t.kind === "refund" && t.status === "success" && t.confirmedAt !== null).map((t) => t.confirmedAt!);
  const times = [job.resolvedAt, ...confirmed].filter((d): d is Date => d !== null);
  return times.length === 0 ? null : new Date(Math.min(...times.map((d) => d.getTime())));
}

/** settlementTime for a job in the database. */
export async function settledAt(tx: DbTx, job: { id: string; resolvedAt: Date | null }): Promise<Date | null> {
  const refunds = await tx.transfer.findMany({
    where: { jobId: job.id, kind: "refund", status: "success", confirmedAt: { not: null } },
    select: { kind: true, status: true, confirmedAt: true },
  });
  return settlementTime(job, refunds);
}

/** The last moment a job that settled at `settled` may be disputed; null while it has not settled. */
export function disputableUntil(settled: Date | null, windowHours: number): Date | null {
  return settled === null ? null : new Date(settled.getTime() + windowHours * 3_600_000);
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
    const until = disputableUntil(settled, windowHours);
    if (settled && until && now.getTime() > until.getTime()) {
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
