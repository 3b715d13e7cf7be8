import { Prisma, type JobStatus } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { effectiveStatus } from "~/server/services/jobs/job-transitions";
import { judgingDeadlineSql, judgingRuleSql, type JudgingDeadlineSettings, type JudgingRule } from "./judging-deadline";

// The admin review queue: deliveries still judging past their judged-by time (judging-deadline.ts).
// Nothing decides them by the clock; an admin gives the verdict (POST /submissions/{id}/verdict),
// and what happens to the job's money follows from it (expire-jobs.ts).

/** The event written on the job when one of its deliveries becomes overdue. */
export const REVIEW_OVERDUE_EVENT = { kind: "review_overdue", actor: "system", reason: "no verdict by its judged-by time; waiting for an admin" } as const;

const isoSql = (value: Prisma.Sql) => Prisma.sql`to_char(${value}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Marks every judging delivery past its judged-by time as escalated and writes one
 * `review_overdue` event on its job (data: submission_id, worker_id, rule, judged_by). One
 * statement: the conditional update makes the event once-only, even with two sweeps at once.
 */
export async function escalateOverdueReviews({ db, settings }: { db: Db; settings: JudgingDeadlineSettings }): Promise<number> {
  const rows = await db.$queryRaw<{ task_id: string }[]>(Prisma.sql`
    WITH overdue AS (
      UPDATE submissions s SET escalated_at = now()
      FROM jobs j
      WHERE j.task_id = s.task_id AND s.status = 'judging' AND s.escalated_at IS NULL AND ${judgingDeadlineSql(settings)} <= now()
      RETURNING s.id, s.task_id, s.worker_id, ${judgingRuleSql()} AS rule, ${judgingDeadlineSql(settings)} AS due_at
    )
    INSERT INTO job_events (id, task_id, kind, actor, reason, data)
    SELECT gen_random_uuid(), task_id, ${REVIEW_OVERDUE_EVENT.kind}, ${REVIEW_OVERDUE_EVENT.actor}, ${REVIEW_OVERDUE_EVENT.reason},
      jsonb_build_object('submission_id', id, 'worker_id', worker_id, 'rule', rule, 'judged_by', ${isoSql(Prisma.sql`due_at`)})
    FROM overdue
    RETURNING task_id`);
  return rows.length;
}

export interface OverdueReview {
  submissionId: string;
  jobId: string;
  jobTitle: string;
  jobStatus: JobStatus;
  buyerId: string;
  workerId: string;
  attempt: number;
  oracleMode: string;
  rule: JudgingRule;
  createdAt: Date;
  judgedBy: Date;
  escalatedAt: Date | null;
}

interface OverdueRow {
  submission_id: string;
  task_id: string;
  title: string;
  status: JobStatus;
  expiry: Date;
  buyer_id: string;
  worker_id: string;
  attempt: number;
  oracle_mode: string;
  rule: JudgingRule;
  created_at: Date;
  due_at: Date;
  escalated_at: Date | null;
}

/** The queue, most overdue first: every delivery still judging past its judged-by time. */
export async function listOverdueReviews({ db, settings, limit, offset }: { db: Db; settings: JudgingDeadlineSettings; limit: number; offset: number }) {
  const overdue = Prisma.sql`s.status = 'judging' AND ${judgingDeadlineSql(settings)} <= now()`;
  const [rows, counted] = await Promise.all([
    db.$queryRaw<OverdueRow[]>(Prisma.sql`
      SELECT s.id AS submission_id, s.task_id, j.title, j.status, j.expiry, j.buyer_id, s.worker_id, s.attempt, s.oracle_mode,
        ${judgingRuleSql()} AS rule, s.created_at, ${judgingDeadlineSql(settings)} AS due_at, s.escalated_at
      FROM submissions s JOIN jobs j ON j.task_id = s.task_id
      WHERE ${overdue}
      ORDER BY due_at, s.id
      LIMIT ${limit} OFFSET ${offset}`),
    db.$queryRaw<{ n: bigint }[]>(Prisma.sql`SELECT count(*) AS n FROM submissions s JOIN jobs j ON j.task_id = s.task_id WHERE ${overdue}`),
  ]);
  const reviews: OverdueReview[] = rows.map((r) => ({
    submissionId: r.submission_id,
    jobId: r.task_id,
    jobTitle: r.title,
    jobStatus: effectiveStatus({ status: r.status, expiry: r.expiry }),
    buyerId: r.buyer_id,
    workerId: r.worker_id,
    attempt: r.attempt,
    oracleMode: r.oracle_mode,
    rule: r.rule,
    createdAt: r.created_at,
    judgedBy: r.due_at,
    escalatedAt: r.escalated_at,
  }));
  return { reviews, total: Number(counted[0]?.n ?? 0) };
}
