import type { Env } from "~/env";
import type { JobStatus } from "~/generated/prisma/client";
import { disputableUntil, settlementTime } from "~/server/services/disputes/file-dispute";
import { judgingDeadline, judgingDeadlineSettings, type JudgingDeadlineSettings, type JudgingRule, type JudgingSubmission } from "~/server/services/submissions/judging-deadline";
import { EXPIRABLE_STATUSES, isPastExpiry } from "./job-transitions";

// Every deadline of a job in one place, so an agent knows where it stands. Each comes from the
// rule that enforces it: the expiry (job-transitions.ts), the judged-by time of each delivery in
// judgment (judging-deadline.ts), the dispute window after settlement (file-dispute.ts).

export interface JobDeadlineSettings {
  judging: JudgingDeadlineSettings;
  disputeWindowHours: number;
}

export function jobDeadlineSettings(env: Pick<Env, "REVIEW_DEADLINE_HOURS" | "EXPIRY_JUDGING_GRACE_MINUTES" | "DISPUTE_WINDOW_HOURS">): JobDeadlineSettings {
  return { judging: judgingDeadlineSettings(env), disputeWindowHours: env.DISPUTE_WINDOW_HOURS };
}

export interface JobDeadlines {
  /** The expiry, while the job can still be claimed and worked; null once it cannot. */
  claimUntil: Date | null;
  submitUntil: Date | null;
  /** Each delivery being judged, with the time its verdict is due and the rule that sets it. */
  judging: { submissionId: string; rule: JudgingRule; judgedBy: Date; overdue: boolean }[];
  /** The latest of those: when every delivery in judgment is due. Null when none is. */
  judgedBy: Date | null;
  /** DISPUTE_WINDOW_HOURS after the job settled; null while it has not (or was never funded). */
  disputableUntil: Date | null;
}

export function jobDeadlines({
  job,
  judging,
  transfers,
  settings,
  now = new Date(),
}: {
  job: { status: JobStatus; expiry: Date; resolvedAt: Date | null; depositAmount: bigint | null };
  judging: (JudgingSubmission & { id: string })[];
  transfers: { kind: string; status: string; confirmedAt: Date | null }[];
  settings: JobDeadlineSettings;
  now?: Date;
}): JobDeadlines {
  const workable = EXPIRABLE_STATUSES.includes(job.status) && !isPastExpiry(job, now);
  const due = judging.map((s) => {
    const { rule, dueAt } = judgingDeadline(s, job.expiry, settings.judging);
    return { submissionId: s.id, rule, judgedBy: dueAt, overdue: dueAt.getTime() <= now.getTime() };
  });
  const latest = due.reduce<Date | null>((max, d) => (max === null || d.judgedBy > max ? d.judgedBy : max), null);
  return {
    claimUntil: workable ? job.expiry : null,
    submitUntil: workable ? job.expiry : null,
    judging: due,
    judgedBy: latest,
    disputableUntil: job.depositAmount === null ? null : disputableUntil(settlementTime(job, transfers), settings.disputeWindowHours),
  };
}
