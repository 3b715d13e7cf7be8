import { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { log } from "~/server/log";
import { publishJobEventsAfterCommit } from "~/server/services/events/publish-job-events";
import { lockJob } from "./job-state";
import { insertTransitionEventsFromSql, JOB_TRANSITIONS, pastExpirySql } from "./job-transitions";
import { recordRefund } from "./refund-job";

/**
 * Persists the `expire` transition for every job past its expiry (the same rule effectiveStatus
 * and the lists read: pastExpirySql), writing the event JOB_TRANSITIONS defines for each. One
 * statement; rows another transaction holds are skipped (it expires them itself through lockJob,
 * or the next sweep does). Deliveries still being judged do not hold the expiry back: they hold
 * back the refund (refundExpiredJobs).
 */
export async function expireDueJobs({ db, now }: { db: Db; now?: Date }): Promise<number> {
  const rows = await db.$queryRaw<{ task_id: string }[]>(Prisma.sql`
    WITH due AS (
      SELECT j.task_id, j.status FROM jobs j WHERE ${pastExpirySql("j", now)}
      FOR UPDATE SKIP LOCKED
    ), expired AS (
      UPDATE jobs SET status = ${JOB_TRANSITIONS.expire.to}::"JobStatus", updated_at = now() FROM due WHERE jobs.task_id = due.task_id
      RETURNING jobs.task_id, due.status AS from_status
    )
    ${insertTransitionEventsFromSql("expire", { relation: Prisma.sql`expired`, jobIdColumn: Prisma.sql`task_id`, fromColumn: Prisma.sql`from_status` })}
    RETURNING task_id`);
  if (rows.length > 0) await publishJobEventsAfterCommit(db);
  return rows.length;
}

/** How many expired jobs one sweep refunds at most; the next sweep takes the rest. */
const REFUNDS_PER_RUN = 200;

/**
 * Expiry refunds by itself: every expired job that was funded, has no refund yet and no delivery
 * being judged gets its refund recorded by recordRefund (refund-job.ts: the same rule and the
 * same row POST /refund writes, with actor `system`), one transaction per job under its lock.
 * A job with a delivery in judgment waits for the verdict: a pass takes its share first
 * (resolve-job.ts lets a delivery made before the expiry win while no refund exists), a fail
 * leaves the job to be refunded by the next sweep; a delivery nobody judges in time goes to the
 * admin review queue (review-queue.ts), never to a refund. Returns the new transfers; the caller
 * sends them (after commit).
 */
export async function refundExpiredJobs({ db }: { db: Db }): Promise<{ jobId: string; transferId: string; status: string }[]> {
  const due = await db.$queryRaw<{ task_id: string }[]>(Prisma.sql`
    SELECT j.task_id FROM jobs j
    WHERE j.status = ${JOB_TRANSITIONS.expire.to}::"JobStatus" AND j.deposit_amount IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.task_id = j.task_id AND t.kind = 'refund')
      AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.task_id = j.task_id AND s.status = 'judging')
    ORDER BY j.expiry
    LIMIT ${REFUNDS_PER_RUN}`);
  const refunds: { jobId: string; transferId: string; status: string }[] = [];
  for (const { task_id: jobId } of due) {
    const transfer = await db
      .$transaction(async (tx) => {
        const job = await lockJob(tx, jobId);
        return recordRefund(tx, { job, actor: "system", reason: "expiry passed" });
      })
      .catch((err: unknown) => {
        // An AppError: decided meanwhile under the lock (the buyer's own refund, a verdict, a
        // dispute, nothing left to return). Anything else: the next sweep tries this job again.
        if (!(err instanceof AppError)) log.warn("automatic refund at expiry failed; the next sweep tries again", { jobId, error: String(err) });
        return null;
      });
    if (transfer) refunds.push({ jobId, transferId: transfer.id, status: transfer.status });
  }
  return refunds;
}
