import type { DisputeStatus } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/services/jobs/job-state";

/** A job's disputes, oldest first: for its buyer, its workers (claimed or submitted) and admins. */
export async function listJobDisputes({ db, viewer, jobId }: { db: Db; viewer: { agentId: string; isAdmin: boolean }; jobId: string }) {
  const job = isUuid(jobId) ? await db.job.findUnique({ where: { id: jobId }, select: { id: true, buyerId: true } }) : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  if (!viewer.isAdmin && viewer.agentId !== job.buyerId) {
    const [claimed, submitted] = await Promise.all([
      db.jobParticipant.count({ where: { jobId, workerId: viewer.agentId } }),
      db.submission.count({ where: { jobId, workerId: viewer.agentId } }),
    ]);
    if (claimed + submitted === 0) throw new AppError("FORBIDDEN", "Only the buyer, its workers and admins may read a job's disputes");
  }
  return db.dispute.findMany({ where: { jobId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
}

/** The admins' queue: every dispute, optionally by status, oldest first so none waits forever. */
export async function listDisputes({ db, status, limit, offset }: { db: Db; status?: DisputeStatus; limit: number; offset: number }) {
  const where = status ? { status } : {};
  const [disputes, total] = await Promise.all([
    db.dispute.findMany({ where, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take: limit, skip: offset }),
    db.dispute.count({ where }),
  ]);
  return { disputes, total };
}
