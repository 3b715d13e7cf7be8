import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { assertBuyer, lockJob } from "./job-state";

/** open|funded -> cancelled, by the buyer, never while a submission is being judged. */
export async function cancelJob({ db, actor, jobId }: { db: Db; actor: { agentId: string; isAdmin?: boolean }; jobId: string }) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "cancel it", true);
    if (job.status !== "open" && job.status !== "funded") {
      throw new AppError(job.status === "expired" ? "JOB_EXPIRED" : "CONFLICT", `Job is ${job.status}; only an open or funded job can be cancelled`, { status: job.status });
    }
    const judging = await tx.submission.count({ where: { jobId, status: "judging" } });
    if (judging > 0) throw new AppError("JUDGING_IN_PROGRESS", `${judging} submission(s) are being judged; try again when they are done`);
    return tx.job.update({ where: { id: jobId }, data: { status: "cancelled", cancelledAt: new Date() } });
  });
}
