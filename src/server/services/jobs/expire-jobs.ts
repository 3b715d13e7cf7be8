import type { Db } from "~/server/db";

/** open|funded jobs past expiry become expired, unless a submission is still being judged. */
export async function expireDueJobs({ db }: { db: Db }): Promise<number> {
  return db.$executeRaw`
    UPDATE jobs SET status = 'expired', updated_at = now()
    WHERE status IN ('open', 'funded') AND expiry <= now()
      AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.task_id = jobs.task_id AND s.status = 'judging')`;
}
