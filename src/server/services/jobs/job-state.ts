import type { Job, JobStatus, Prisma } from "~/generated/prisma/client";
import type { DbTx } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/input-bounds";
import { WEBHOOK_EVENT_BY_KIND } from "~/server/services/webhooks/events";
import { publishJobEventsAfterCommit } from "~/server/services/events/publish-job-events";
import { rowToJob, type JobRow } from "./list-jobs";

// Services that look up ids from elsewhere (the background runner, other services) still check
// them: the API refuses malformed ids at the door, but not every caller comes through it.
export { isUuid };

// The job state machine (#30-#33):
//   open -> funded -> claimed (>= 1 active worker) -> resolved
//   claimed -> funded when the last worker leaves
//   open | funded | claimed -> expired | cancelled;  expired | cancelled -> refunded
//   expired -> resolved when a submission made in time passes after expiry;
//   expired | cancelled -> resolved when a dispute is overturned to a worker
// Every transition goes through transitionJob, which also writes the job's event log.

/** Statuses in which a job accepts claims and work. */
export const WORKABLE_STATUSES: readonly JobStatus[] = ["funded", "claimed"];
/** Statuses that turn into expired once the expiry passes. */
export const EXPIRABLE_STATUSES: readonly JobStatus[] = ["open", "funded", "claimed"];

export function isWorkable(status: JobStatus): boolean {
  return WORKABLE_STATUSES.includes(status);
}

/**
 * Expiry is stored as a time, and the sweep moves due jobs to `expired`; until it has, a job
 * past its expiry still reads as expired everywhere.
 */
export function effectiveStatus(job: { status: JobStatus; expiry: Date }, now = new Date()): JobStatus {
  if (EXPIRABLE_STATUSES.includes(job.status) && job.expiry.getTime() <= now.getTime()) return "expired";
  return job.status;
}

export interface EventInput {
  actor: string;
  reason?: string;
  data?: Prisma.InputJsonValue;
}

export async function recordJobEvent(tx: DbTx, jobId: string, kind: string, input: EventInput & { from?: JobStatus; to?: JobStatus }) {
  await tx.jobEvent.create({
    data: { jobId, kind, actor: input.actor, reason: input.reason ?? null, data: input.data, fromStatus: input.from ?? null, toStatus: input.to ?? null },
  });
  // Webhooks and the event feed hear of it as soon as the transaction commits (never if it rolls back).
  if (WEBHOOK_EVENT_BY_KIND[kind]) await publishJobEventsAfterCommit(tx);
}

/** Moves a (locked) job to `to`, writing the change and its reason to the event log. */
export async function transitionJob(tx: DbTx, job: Job, to: JobStatus, event: EventInput & { kind?: string }, data: Prisma.JobUpdateInput = {}): Promise<Job> {
  const updated = await tx.job.update({ where: { id: job.id }, data: { ...data, status: to } });
  if (job.status !== to || event.kind) {
    await recordJobEvent(tx, job.id, event.kind ?? to, { ...event, from: job.status, to });
  }
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
  if (effectiveStatus(job) === "expired" && job.status !== "expired") {
    return transitionJob(tx, job, "expired", { actor: "system", reason: "expiry passed" });
  }
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
