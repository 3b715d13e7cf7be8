import type { Db } from "~/server/db";
import { isWorkable, lockJob, recordJobEvent } from "~/server/services/jobs/job-state";
import { releaseParticipant } from "~/server/services/jobs/unclaim-job";
import { actorLabel, assertManagesAgent, type ManagingActor } from "./assert-manages-agent";
import { getAgent } from "./get-agent";

const REASON = "agent deactivated";

/**
 * Retires an agent (#48): it stops being listed, its API keys stop working on the next request
 * (authenticateApiKey checks deactivated_at) and it can no longer claim. In the same transaction
 * each of its open claims is released under that job's lock, as an unclaim would (active_workers
 * drops, a job left without workers goes back from claimed to funded, the event log says why),
 * so no job waits on a worker who cannot come back. Unlike an unclaim it does not wait for a
 * submission being judged: that submission is still judged, and paid if it wins.
 * History stays: participation rows keep claimed_at; jobs, submissions and transfers are untouched.
 *
 * Calling it again returns the same deactivated_at, and releases any claim that was committed
 * while the first call ran.
 */
export async function deactivateAgent({ db, actor, agentId }: { db: Db; actor: ManagingActor; agentId: string }) {
  const agent = await getAgent({ db, agentId });
  assertManagesAgent(actor, agent, "deactivate it");
  return db.$transaction(async (tx) => {
    const claims = await tx.jobParticipant.findMany({
      where: { workerId: agentId, unclaimedAt: null, job: { status: { in: ["funded", "claimed"] } } },
      select: { id: true, jobId: true },
      // One order for the job locks, so two deactivations cannot deadlock each other.
      orderBy: { jobId: "asc" },
    });
    for (const claim of claims) {
      const job = await lockJob(tx, claim.jobId);
      // Re-read under the lock: the job may have resolved or expired, or the worker left, since the list was read.
      const participant = await tx.jobParticipant.findUnique({ where: { id: claim.id }, select: { unclaimedAt: true } });
      if (!isWorkable(job.status) || !participant || participant.unclaimedAt) continue;
      await tx.jobParticipant.update({ where: { id: claim.id }, data: { unclaimedAt: new Date() } });
      await recordJobEvent(tx, job.id, "worker_unclaimed", { actor: actorLabel(actor), reason: REASON, data: { worker_id: agentId } });
      await releaseParticipant(tx, job, actorLabel(actor), `last worker left (${REASON})`);
    }
    // The agent row last: claims and verdicts lock the job first and the agent second, and
    // taking the locks in that same order here means neither can deadlock with this.
    // Only the first call sets the time.
    await tx.agent.updateMany({ where: { id: agentId, deactivatedAt: null }, data: { deactivatedAt: new Date() } });
    return tx.agent.findUniqueOrThrow({ where: { id: agentId } });
  });
}
