import { randomUUID } from "node:crypto";
import { Prisma, type JobStatus } from "~/generated/prisma/client";

// The job state machine, defined once. Every path that changes a job's status — Prisma
// (transitionJob, lockJob in job-state.ts) or the plain pg pool (the claim in claim-job.ts, the
// sweep's expiry in expire-jobs.ts) — takes its from/to statuses, its fixed actor and its default
// reason from JOB_TRANSITIONS, and builds the event row it writes with transitionEventRow. Both
// drivers insert that row through the builders below, so the two paths cannot write different
// events (test/job-state-machine.test.ts runs each transition both ways and compares the rows).
// This module has no database client of its own: it only defines, and builds SQL.

export interface TransitionDefinition {
  /** The statuses it may start from. */
  from: readonly JobStatus[];
  to: JobStatus;
  /** Who may cause it (documentation; the services enforce it). */
  by: string;
  /** Set when only the platform causes it: the event's actor is always this. */
  actor?: "system";
  /** The event's reason unless the caller gives one. */
  reason: string | null;
}

export const JOB_TRANSITIONS = {
  fund: { from: ["open"], to: "funded", by: "the buyer, with a confirmed deposit (fund-job.ts)", reason: null },
  claim: { from: ["funded"], to: "claimed", by: "the first active worker (claim-job.ts, plain pg)", reason: "first worker claimed" },
  release: { from: ["claimed"], to: "funded", by: "the last active worker leaving, or its deactivation (unclaim-job.ts)", reason: "last worker left" },
  resolve: { from: ["funded", "claimed", "expired"], to: "resolved", by: "the passing verdict that takes the last share: oracle, buyer or admin (resolve-job.ts)", reason: null },
  overturn: { from: ["funded", "claimed", "expired", "cancelled"], to: "resolved", by: "an admin resolving a dispute overturn_to_worker (resolve-dispute.ts)", reason: "dispute overturned" },
  expire: { from: ["open", "funded", "claimed"], to: "expired", by: "the platform, when the expiry passes (lockJob, or the sweep in plain SQL)", actor: "system", reason: "expiry passed" },
  cancel: { from: ["open", "funded", "claimed"], to: "cancelled", by: "the buyer or an admin agent (cancel-job.ts)", reason: "cancelled by the buyer" },
  disputeRefund: { from: ["funded", "claimed"], to: "cancelled", by: "an admin resolving a dispute refund_buyer (resolve-dispute.ts)", reason: "dispute: refund to buyer" },
  refundConfirmed: { from: ["expired", "cancelled"], to: "refunded", by: "the platform, when the job's refund is final on chain (send-transfer.ts)", actor: "system", reason: "refund confirmed on chain" },
} as const satisfies Record<string, TransitionDefinition>;

export type TransitionName = keyof typeof JOB_TRANSITIONS;

/** One row of job_events, as both drivers write it. */
export interface JobEventRow {
  kind: string;
  fromStatus: JobStatus | null;
  toStatus: JobStatus | null;
  actor: string;
  reason: string | null;
  data: Prisma.InputJsonValue | null;
}

export interface EventInput {
  actor: string;
  reason?: string;
  data?: Prisma.InputJsonValue;
}

/** An event that is not a status change (created, worker_claimed, refund_requested, ...). */
export function jobEventRow(kind: string, input: EventInput & { from?: JobStatus; to?: JobStatus }): JobEventRow {
  return { kind, fromStatus: input.from ?? null, toStatus: input.to ?? null, actor: input.actor, reason: input.reason ?? null, data: input.data ?? null };
}

export class IllegalTransitionError extends Error {}

/**
 * The event a transition writes: its kind is the target status. Refuses a transition from a
 * status it does not start from (a bug in the caller, never a user error: services check the
 * status first and answer with their own AppError).
 */
export function transitionEventRow(name: TransitionName, from: JobStatus, input: Partial<EventInput> = {}): JobEventRow {
  const def: TransitionDefinition = JOB_TRANSITIONS[name];
  if (!def.from.includes(from)) throw new IllegalTransitionError(`job transition '${name}' cannot start from '${from}' (only ${def.from.join(", ")})`);
  const actor = def.actor ?? input.actor;
  if (!actor) throw new IllegalTransitionError(`job transition '${name}' needs an actor`);
  if (def.actor && input.actor && input.actor !== def.actor) throw new IllegalTransitionError(`job transition '${name}' is caused by ${def.actor} only`);
  return { kind: def.to, fromStatus: from, toStatus: def.to, actor, reason: input.reason ?? def.reason, data: input.data ?? null };
}

const jsonb = (data: Prisma.InputJsonValue | null) => (data === null ? Prisma.sql`NULL::jsonb` : Prisma.sql`${JSON.stringify(data)}::jsonb`);

/**
 * INSERT of event rows for the plain pg path. Rows get distinct times one millisecond apart from
 * `at`, so the log reads in the order they were listed. Times are sent as UTC strings (see db-sql.ts).
 */
export function insertJobEventsSql(jobId: string, rows: JobEventRow[], at: Date): Prisma.Sql {
  const values = rows.map(
    (e, i) =>
      Prisma.sql`(${randomUUID()}::uuid, ${jobId}::uuid, ${e.kind}, ${e.fromStatus}::"JobStatus", ${e.toStatus}::"JobStatus", ${e.actor}, ${e.reason}, ${jsonb(e.data)}, ${new Date(at.getTime() + i).toISOString()}::timestamp)`,
  );
  return Prisma.sql`INSERT INTO job_events (id, task_id, kind, from_status, to_status, actor, reason, data, created_at) VALUES ${Prisma.join(values)}`;
}

/**
 * INSERT … SELECT of one transition's events for a set of rows (the sweep's expiry): `source`
 * names a relation with the job id and the status each row moved from. Only transitions with a
 * fixed actor run set-wise, so every row gets the same actor, reason and data.
 */
export function insertTransitionEventsFromSql(name: TransitionName, source: { relation: Prisma.Sql; jobIdColumn: Prisma.Sql; fromColumn: Prisma.Sql }): Prisma.Sql {
  const def: TransitionDefinition = JOB_TRANSITIONS[name];
  if (!def.actor) throw new IllegalTransitionError(`job transition '${name}' has no fixed actor; write its events row by row`);
  return Prisma.sql`
    INSERT INTO job_events (id, task_id, kind, from_status, to_status, actor, reason, data)
    SELECT gen_random_uuid(), ${source.jobIdColumn}, ${def.to}, ${source.fromColumn}, ${def.to}::"JobStatus", ${def.actor}, ${def.reason}, NULL::jsonb
    FROM ${source.relation}`;
}

/** `column IN (<the statuses the transition starts from>)`. */
export function transitionStartsFromSql(name: TransitionName, column: Prisma.Sql): Prisma.Sql {
  const from: readonly JobStatus[] = JOB_TRANSITIONS[name].from;
  return Prisma.sql`${column} IN (${Prisma.join(from.map((s) => Prisma.sql`${s}::"JobStatus"`))})`;
}

// ---------------------------------------------------------------------------------------------
// Expiry: one rule. A job is past its expiry when it is in a status the `expire` transition
// starts from and its expiry time has come. The TypeScript function serves reads of one job
// (DTOs, lockJob, the claim); the SQL fragment, built from the same definition, serves lists,
// stats and the sweep. Nothing else (a submission being judged, a refund) changes when a job
// expires: those decide what happens to its money afterwards (expire-jobs.ts).

/** Statuses that turn into expired once the expiry passes. */
export const EXPIRABLE_STATUSES: readonly JobStatus[] = JOB_TRANSITIONS.expire.from;

export function isPastExpiry(job: { status: JobStatus; expiry: Date }, now: Date = new Date()): boolean {
  return EXPIRABLE_STATUSES.includes(job.status) && job.expiry.getTime() <= now.getTime();
}

/** The status a reader sees: a job past its expiry reads as expired before anything writes it. */
export function effectiveStatus(job: { status: JobStatus; expiry: Date }, now: Date = new Date()): JobStatus {
  return isPastExpiry(job, now) ? JOB_TRANSITIONS.expire.to : job.status;
}

/** SQL time to compare with: the database's clock unless a time is given (sent as UTC). */
function timeSql(now: Date | undefined): Prisma.Sql {
  return now ? Prisma.sql`${now.toISOString()}::timestamp` : Prisma.sql`now()`;
}

function column(alias: string, name: string): Prisma.Sql {
  return Prisma.raw(`${alias}.${name}`);
}

/** isPastExpiry in SQL, for the jobs row called `alias`. */
export function pastExpirySql(alias: string, now?: Date): Prisma.Sql {
  return Prisma.sql`(${transitionStartsFromSql("expire", column(alias, "status"))} AND ${column(alias, "expiry")} <= ${timeSql(now)})`;
}

/** effectiveStatus in SQL, as a text value (for grouping). */
export function effectiveStatusSql(alias: string, now?: Date): Prisma.Sql {
  return Prisma.sql`(CASE WHEN ${pastExpirySql(alias, now)} THEN ${JOB_TRANSITIONS.expire.to} ELSE ${column(alias, "status")}::text END)`;
}

/** `effectiveStatus(job) = status` in SQL, written so each branch can use the (status, …) indexes. */
export function effectiveStatusIsSql(alias: string, status: JobStatus, now?: Date): Prisma.Sql {
  const statusIs = Prisma.sql`${column(alias, "status")} = ${status}::"JobStatus"`;
  if (EXPIRABLE_STATUSES.includes(status)) return Prisma.sql`(${statusIs} AND ${column(alias, "expiry")} > ${timeSql(now)})`;
  if (status === JOB_TRANSITIONS.expire.to) return Prisma.sql`(${statusIs} OR ${pastExpirySql(alias, now)})`;
  return statusIs;
}
