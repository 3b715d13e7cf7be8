import type { JobStatus } from "~/generated/prisma/client";
import type { DbTx } from "~/server/db";
import { AppError } from "~/server/errors";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/**
 * Expiry is stored as a time, and the sweep moves due jobs to `expired`; until it has, a job
 * past its expiry still reads as expired everywhere.
 */
export function effectiveStatus(job: { status: JobStatus; expiry: Date }, now = new Date()): JobStatus {
  if ((job.status === "open" || job.status === "funded") && job.expiry.getTime() <= now.getTime()) return "expired";
  return job.status;
}

/** Loads a job under a row lock: every state change of a job goes through here. */
export async function lockJob(tx: DbTx, jobId: string) {
  if (!isUuid(jobId)) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const rows = await tx.$queryRaw<{ task_id: string }[]>`SELECT task_id FROM jobs WHERE task_id = ${jobId}::uuid FOR UPDATE`;
  if (rows.length === 0) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const job = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
  // A job past its expiry is expired from now on, whatever else this transaction does.
  if (effectiveStatus(job) === "expired" && job.status !== "expired") {
    return tx.job.update({ where: { id: jobId }, data: { status: "expired" } });
  }
  return job;
}

export function assertBuyer(job: { buyerId: string }, actor: { agentId: string; isAdmin?: boolean }, action: string, allowAdmin = false): void {
  if (job.buyerId !== actor.agentId && !(allowAdmin && actor.isAdmin)) {
    throw new AppError("NOT_THE_BUYER", `Only the buyer of this job may ${action}`);
  }
}
