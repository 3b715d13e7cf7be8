import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { canSeeResult } from "~/server/api/dto";
import { isUuid } from "./job-state";
import { isInJobAudience } from "~/server/services/events/job-audience";

async function findJob(db: Db, jobId: string) {
  const job = isUuid(jobId) ? await db.job.findUnique({ where: { id: jobId }, include: { transfers: { orderBy: { createdAt: "asc" } } } }) : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  return job;
}

/** The winning content (#45): for the buyer, the winners and admins. */
export async function getJobResult({ db, viewer, jobId }: { db: Db; viewer: { agentId: string; isAdmin: boolean }; jobId: string }) {
  const job = await findJob(db, jobId);
  const winnerIds = job.transfers.filter((t) => t.kind === "payout").map((t) => t.agentId ?? "");
  if (!canSeeResult(job, viewer, winnerIds)) throw new AppError("FORBIDDEN", "Only the buyer, the winners and admins may read this job's result");
  if (job.resultData === null) throw new AppError("NOT_FOUND", "This job has no result yet");
  const winners = await db.submission.findMany({ where: { jobId, isWinner: true }, orderBy: { judgedAt: "asc" }, select: { id: true, workerId: true, content: true } });
  return { job, winners };
}

/** Who may see the money side of a job: its buyer, anyone paid by it, admins. */
export async function getJobReceipt({ db, viewer, jobId }: { db: Db; viewer: { agentId: string; isAdmin: boolean }; jobId: string }) {
  const job = await findJob(db, jobId);
  const paidAgents = job.transfers.map((t) => t.agentId);
  if (!(viewer.isAdmin || viewer.agentId === job.buyerId || paidAgents.includes(viewer.agentId))) {
    throw new AppError("FORBIDDEN", "Only the buyer, the winners and admins may read this job's receipt");
  }
  return job;
}

/** The job's event log (#30-#33): those who hear about the job (job-audience.ts) and admins may read it. */
export async function listJobEvents({ db, viewer, jobId, limit, offset }: { db: Db; viewer: { agentId: string; isAdmin: boolean }; jobId: string; limit: number; offset: number }) {
  const job = isUuid(jobId) ? await db.job.findUnique({ where: { id: jobId }, select: { id: true } }) : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  if (!viewer.isAdmin && !(await isInJobAudience(db, { jobId, agentId: viewer.agentId }))) {
    throw new AppError("FORBIDDEN", "Only the buyer, its workers and admins may read a job's events");
  }
  const [events, total] = await Promise.all([
    db.jobEvent.findMany({ where: { jobId }, orderBy: [{ createdAt: "asc" }, { seq: "asc" }], take: limit, skip: offset }),
    db.jobEvent.count({ where: { jobId } }),
  ]);
  return { events, total };
}
