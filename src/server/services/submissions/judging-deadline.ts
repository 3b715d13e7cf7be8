import { Prisma } from "~/generated/prisma/client";

// When a delivery must have its verdict (its "judged by" time), defined once: the TypeScript
// function serves the job's DTO, the SQL fragment (built from the same settings and the same
// test of "awaits a person") serves the admin review queue and the sweep's escalation.
//
// - A delivery waiting for a person (manual mode, or a model-mode delivery the pipeline handed to
//   manual review, which then has its check steps recorded while still judging) must be judged
//   REVIEW_DEADLINE_HOURS after it was made.
// - A delivery waiting for the model is judged by the job's expiry plus
//   EXPIRY_JUDGING_GRACE_MINUTES: deliveries can only be made before the expiry, and the grace is
//   the time the job waits for them after it.
// Past that time an undecided delivery is overdue: it is listed for admins (GET /admin/reviews)
// and its job gets a `review_overdue` event. It is never passed or failed by the clock, and the
// job's refund waits for its verdict (expire-jobs.ts).

export interface JudgingDeadlineSettings {
  reviewDeadlineHours: number;
  expiryGraceMinutes: number;
}

export function judgingDeadlineSettings(env: { REVIEW_DEADLINE_HOURS: number; EXPIRY_JUDGING_GRACE_MINUTES: number }): JudgingDeadlineSettings {
  return { reviewDeadlineHours: env.REVIEW_DEADLINE_HOURS, expiryGraceMinutes: env.EXPIRY_JUDGING_GRACE_MINUTES };
}

export type JudgingRule = "manual_review" | "expiry_grace";

export interface JudgingSubmission {
  oracleMode: string;
  oracleSteps: unknown;
  createdAt: Date;
}

/** A person has to decide it: manual mode, or steps recorded while it is still judging. */
export function awaitsPerson(submission: Pick<JudgingSubmission, "oracleMode" | "oracleSteps">): boolean {
  return submission.oracleMode === "manual" || (Array.isArray(submission.oracleSteps) && submission.oracleSteps.length > 0);
}

/** The judged-by time of a judging submission of a job that expires at `jobExpiry`. */
export function judgingDeadline(submission: JudgingSubmission, jobExpiry: Date, settings: JudgingDeadlineSettings): { rule: JudgingRule; dueAt: Date } {
  if (awaitsPerson(submission)) return { rule: "manual_review", dueAt: new Date(submission.createdAt.getTime() + settings.reviewDeadlineHours * 3_600_000) };
  return { rule: "expiry_grace", dueAt: new Date(jobExpiry.getTime() + settings.expiryGraceMinutes * 60_000) };
}

const col = (alias: string, name: string) => Prisma.raw(`${alias}.${name}`);

/** awaitsPerson in SQL, for submissions row `s`. */
export function awaitsPersonSql(s = "s"): Prisma.Sql {
  return Prisma.sql`(${col(s, "oracle_mode")} = 'manual' OR jsonb_array_length(${col(s, "oracle_steps")}) > 0)`;
}

/** judgingDeadline's time in SQL, for submissions row `s` of jobs row `j`. */
export function judgingDeadlineSql(settings: JudgingDeadlineSettings, s = "s", j = "j"): Prisma.Sql {
  return Prisma.sql`(CASE WHEN ${awaitsPersonSql(s)}
    THEN ${col(s, "created_at")} + make_interval(hours => ${settings.reviewDeadlineHours}::int)
    ELSE ${col(j, "expiry")} + make_interval(mins => ${settings.expiryGraceMinutes}::int) END)`;
}

/** judgingDeadline's rule in SQL, beside judgingDeadlineSql. */
export function judgingRuleSql(s = "s"): Prisma.Sql {
  return Prisma.sql`(CASE WHEN ${awaitsPersonSql(s)} THEN 'manual_review' ELSE 'expiry_grace' END)`;
}
