import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { assertBuyer, isWorkable, lockJob, transitionJob } from "./job-state";

/** open|funded -> cancelled, by the buyer, never while a submission is being judged. */
export async function cancelJob({ db, actor, jobId, reason }: { db: Db; actor: { agentId: string; isAdmin?: boolean }; jobId: string; reason?: string }) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "cancel it", true);
    if (job.status !== "open" && !isWorkable(job.status)) {
      throw new AppError(job.status === "expired" ? "JOB_EXPIRED" : "CONFLICT", `Job is ${job.status}; only an open, funded or claimed job can be cancelled`, { status: job.status });
    }
    const judging = await tx.submission.count({ where: { jobId, status: "judging" } });
    if (judging > 0) throw new AppError("JUDGING_IN_PROGRESS", `${judging} submission(s) are being judged; try again when they are done`);
    return transitionJob(tx, job, "cancel", { actor: actor.agentId, reason }, { cancelledAt: new Date() });
  });
}
