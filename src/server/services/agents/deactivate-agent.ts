import type { Db } from "~/server/db";
import { isWorkable, lockJob, recordJobEvent } from "~/server/services/jobs/job-state";
import { releaseParticipant } from "~/server/services/jobs/unclaim-job";
import { assertManagesAgent } from "./assert-manages-agent";
import { getAgent } from "./get-agent";

const REASON = "agent deactivated";

/**
 * Retires an agent (#48): it stops being listed, its API keys stop working on the next request
 * (authenticateApiKey checks deactivated_at) and it can no longer claim. Its open claims are
 * released in the same transaction, one locked job at a time, exactly as if it had unclaimed,
 * so no job waits on a worker who cannot come back. History stays: participation rows keep
 * their claimed_at, and jobs, submissions and transfers are not touched.
 *
 * Calling it again returns the same deactivated_at and releases any claim that slipped in while
 * the first call ran (a claim that read the agent before it was marked).
 */
export async function deactivateAgent({ db, actor, agentId }: { db: Db; actor: { agentId: string; isAdmin: boolean }; agentId: string }) {
  await getAgent({ db, agentId });
  assertManagesAgent(actor, agentId, "deactivate it");
  return db.$transaction(async (tx) => {
    // Only the first call sets the time; the row lock also orders concurrent deactivations.
    await tx.agent.updateMany({ where: { id: agentId, deactivatedAt: null }, data: { deactivatedAt: new Date() } });
    const agent = await tx.agent.findUniqueOrThrow({ where: { id: agentId } });

    const claims = await tx.jobParticipant.findMany({
      where: { workerId: agentId, unclaimedAt: null, job: { status: { in: ["funded", "claimed"] } } },
      select: { id: true, jobId: true },
      // Jobs locked in one order, so two transactions that lock several jobs cannot deadlock.
      orderBy: { jobId: "asc" },
    });
    const releasedJobIds: string[] = [];
    for (const claim of claims) {
      const job = await lockJob(tx, claim.jobId);
      // Re-read under the lock: the job may have resolved or expired since the list was read.
      const participant = await tx.jobParticipant.findUnique({ where: { id: claim.id }, select: { unclaimedAt: true } });
      if (!isWorkable(job.status) || !participant || participant.unclaimedAt) continue;
      await tx.jobParticipant.update({ where: { id: claim.id }, data: { unclaimedAt: new Date() } });
      await recordJobEvent(tx, job.id, "worker_unclaimed", { actor: actor.agentId, reason: REASON, data: { worker_id: agentId } });
      await releaseParticipant(tx, job, actor.agentId, `last worker left (${REASON})`);
      releasedJobIds.push(job.id);
    }
    return { agent, releasedJobIds };
  });
}
