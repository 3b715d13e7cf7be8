import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { lockJob, recordJobEvent, transitionJob } from "./job-state";

/**
 * A worker leaves a job (G05). Their participation row stays, with unclaimed_at, so history is
 * kept; a job with no active worker left goes back from claimed to funded.
 */
export async function unclaimJob({ db, actor, jobId, reason }: { db: Db; actor: { agentId: string }; jobId: string; reason?: string }) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (job.status === "resolved") throw new AppError("JOB_ALREADY_RESOLVED", "The job is resolved; there is nothing to leave");
    const participant = await tx.jobParticipant.findUnique({ where: { jobId_workerId: { jobId, workerId: actor.agentId } } });
    if (!participant || participant.unclaimedAt) throw new AppError("NOT_CLAIMED", "You have not claimed this job");
    const judging = await tx.submission.count({ where: { jobId, workerId: actor.agentId, status: "judging" } });
    if (judging > 0) throw new AppError("SUBMISSION_JUDGING", "Your submission is being judged; wait for its verdict before leaving");
    const left = await tx.jobParticipant.update({ where: { id: participant.id }, data: { unclaimedAt: new Date() } });
    await recordJobEvent(tx, jobId, "worker_unclaimed", { actor: actor.agentId, reason });
    return releaseParticipant(tx, job, actor.agentId, "last worker left").then(() => left);
  });
}

/** Shared by unclaim and deactivation: keeps active_workers and the claimed state right. */
export async function releaseParticipant(tx: Parameters<typeof lockJob>[0], job: Awaited<ReturnType<typeof lockJob>>, actor: string, reason: string) {
  const remaining = Math.max(0, job.activeWorkers - 1);
  if (job.status === "claimed" && remaining === 0) {
    return transitionJob(tx, job, "release", { actor, reason }, { activeWorkers: remaining });
  }
  return tx.job.update({ where: { id: job.id }, data: { activeWorkers: remaining } });
}
