import { Prisma, type Job, type JobStatus } from "~/generated/prisma/client";
import type { DbTx } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/input-bounds";
import { WEBHOOK_EVENT_BY_KIND } from "~/server/services/webhooks/events";
import { publishJobEventsAfterCommit } from "~/server/services/events/publish-job-events";
import { rowToJob, type JobRow } from "./list-jobs";
import { isPastExpiry, jobEventRow, transitionEventRow, type EventInput, type JobEventRow, type TransitionName } from "./job-transitions";

// Services that look up ids from elsewhere (the background runner, other services) still check
// them: the API refuses malformed ids at the door, but not every caller comes through it.
export { isUuid };

// The job state machine is defined in job-transitions.ts (JOB_TRANSITIONS: from -> to, who, the
// event row); this module applies it through Prisma: transitionJob on a job locked by lockJob.
// The claim and the sweep's expiry apply the same definitions on the plain pg pool.
export { EXPIRABLE_STATUSES, effectiveStatus, isPastExpiry, type EventInput } from "./job-transitions";

/** Statuses in which a job accepts claims and work. */
export const WORKABLE_STATUSES: readonly JobStatus[] = ["funded", "claimed"];

export function isWorkable(status: JobStatus): boolean {
  return WORKABLE_STATUSES.includes(status);
}

async function insertJobEvent(tx: DbTx, jobId: string, row: JobEventRow) {
  await tx.jobEvent.create({
    data: { jobId, kind: row.kind, actor: row.actor, reason: row.reason, data: row.data ?? undefined, fromStatus: row.fromStatus, toStatus: row.toStatus },
  });
  // Webhooks and the event feed hear of it as soon as the transaction commits (never if it rolls back).
  if (WEBHOOK_EVENT_BY_KIND[row.kind]) await publishJobEventsAfterCommit(tx);
}

/** Writes an event that is not a status change (or `created`, which has no from). */
export async function recordJobEvent(tx: DbTx, jobId: string, kind: string, input: EventInput & { from?: JobStatus; to?: JobStatus }) {
  await insertJobEvent(tx, jobId, jobEventRow(kind, input));
}

/**
 * Applies transition `name` to a (locked) job: the status (with any other fields in `data`) and
 * the event row JOB_TRANSITIONS defines, in the caller's transaction.
 */
export async function transitionJob(tx: DbTx, job: Job, name: TransitionName, event: Partial<EventInput> = {}, data: Prisma.JobUpdateInput = {}): Promise<Job> {
  const row = transitionEventRow(name, job.status, event);
  const updated = await tx.job.update({ where: { id: job.id }, data: { ...data, status: row.toStatus! } });
  await insertJobEvent(tx, job.id, row);
  return updated;
}

/** Loads a job under a row lock: every state change of a job goes through here. */
export async function lockJob(tx: DbTx, jobId: string): Promise<Job> {
  if (!isUuid(jobId)) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  // One round trip: lock and read the row together (this runs in every job-changing transaction).
  const rows = await tx.$queryRaw<JobRow[]>`SELECT * FROM jobs WHERE task_id = ${jobId}::uuid FOR UPDATE`;
  if (rows.length === 0) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const { participants: _participants, _count, ...job } = rowToJob(rows[0]!);
  // A job past its expiry is expired from now on, whatever else this transaction does.
  if (isPastExpiry(job)) return transitionJob(tx, job, "expire");
  return job;
}

export function assertBuyer(job: { buyerId: string }, actor: { agentId: string; isAdmin?: boolean }, action: string, allowAdmin = false): void {
  if (job.buyerId !== actor.agentId && !(allowAdmin && actor.isAdmin)) {
    throw new AppError("NOT_THE_BUYER", `Only the buyer of this job may ${action}`);
  }
}

export function notWorkableError(status: JobStatus, action: string): AppError {
  return new AppError(status === "expired" ? "JOB_EXPIRED" : "JOB_NOT_FUNDED", `Job is ${status}; ${action}`, { status });
}
