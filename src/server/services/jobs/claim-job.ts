import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { NO_WALLET_WARNING } from "~/server/services/agents/register-agent";
import { isWorkable, lockJob, notWorkableError, recordJobEvent, transitionJob } from "./job-state";

/** A registered, active agent other than the buyer joins a funded job as a worker. */
export async function claimJob({ db, actor, jobId }: { db: Db; actor: { agentId: string }; jobId: string }) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!isWorkable(job.status)) throw notWorkableError(job.status, "only a funded job can be claimed");
    // The worker's row is locked for the update below (jobs_claimed) from the start: a deactivation
    // then waits for this claim and releases it. Not FOR SHARE: two claims by one agent would
    // each hold a share lock and deadlock upgrading it.
    const [locked] = await tx.$queryRaw<{ id: string; reputation: number; capabilities: string[] | null; wallet_address: string | null; deactivated_at: Date | null }[]>`
      SELECT agent_id AS id, reputation, capabilities, wallet_address, deactivated_at FROM agents WHERE agent_id = ${actor.agentId} FOR NO KEY UPDATE`;
    const worker = locked && { id: locked.id, reputation: locked.reputation, capabilities: locked.capabilities ?? [], walletAddress: locked.wallet_address, deactivatedAt: locked.deactivated_at };
    if (!worker || worker.deactivatedAt) throw new AppError("AGENT_NOT_FOUND", `Agent '${actor.agentId}' is not an active registered agent`);
    if (job.buyerId === worker.id) throw new AppError("SELF_CLAIM", "A buyer cannot claim their own job");
    if (worker.reputation < job.minReputation) {
      throw new AppError("REPUTATION_TOO_LOW", `Reputation ${worker.reputation} is below this job's min_reputation ${job.minReputation}`, {
        reputation: worker.reputation,
        min_reputation: job.minReputation,
      });
    }
    const missing = job.requiredCapabilities.filter((tag) => !worker.capabilities.includes(tag));
    if (missing.length > 0) {
      throw new AppError("MISSING_CAPABILITIES", `This job requires capabilities you have not declared: ${missing.join(", ")}`, { missing_capabilities: missing });
    }
    const existing = await tx.jobParticipant.findUnique({ where: { jobId_workerId: { jobId, workerId: worker.id } } });
    if (existing && !existing.unclaimedAt) throw new AppError("ALREADY_CLAIMED", "You have already claimed this job");
    // A worker who left may come back: the same row, claimed again.
    const participant = existing
      ? await tx.jobParticipant.update({ where: { id: existing.id }, data: { claimedAt: new Date(), unclaimedAt: null } })
      : await tx.jobParticipant.create({ data: { jobId, workerId: worker.id } });
    if (!existing) await tx.agent.update({ where: { id: worker.id }, data: { jobsClaimed: { increment: 1 } } });
    const counts = { activeWorkers: { increment: 1 } };
    const updated =
      job.status === "funded"
        ? await transitionJob(tx, job, "claimed", { actor: worker.id, reason: "first worker claimed" }, counts)
        : await tx.job.update({ where: { id: jobId }, data: counts });
    await recordJobEvent(tx, jobId, "worker_claimed", { actor: worker.id });
    return { job: updated, participant, warnings: worker.walletAddress ? [] : [NO_WALLET_WARNING] };
  });
}
