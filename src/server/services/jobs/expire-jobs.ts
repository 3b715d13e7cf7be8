import type { Db } from "~/server/db";
import { publishJobEventsAfterCommit } from "~/server/services/events/publish-job-events";

/**
 * open|funded|claimed jobs past expiry become expired, unless a submission is still being
 * judged; each gets an event in the job's log. One statement, rows locked or skipped.
 */
export async function expireDueJobs({ db }: { db: Db }): Promise<number> {
  const rows = await db.$queryRaw<{ task_id: string }[]>`
    WITH due AS (
      SELECT task_id, status FROM jobs
      WHERE status IN ('open', 'funded', 'claimed') AND expiry <= now()
        AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.task_id = jobs.task_id AND s.status = 'judging')
      FOR UPDATE SKIP LOCKED
    ), expired AS (
      UPDATE jobs SET status = 'expired', updated_at = now() FROM due WHERE jobs.task_id = due.task_id
      RETURNING jobs.task_id, due.status AS from_status
    )
    INSERT INTO job_events (id, task_id, kind, from_status, to_status, actor, reason)
    SELECT gen_random_uuid(), task_id, 'expired', from_status, 'expired', 'system', 'expiry passed' FROM expired
    RETURNING task_id`;
  if (rows.length > 0) await publishJobEventsAfterCommit(db);
  return rows.length;
}
