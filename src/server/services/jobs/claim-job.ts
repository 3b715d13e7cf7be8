import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { NO_WALLET_WARNING } from "~/server/services/agents/register-agent";
import { lockJob } from "./job-state";

/** A registered agent other than the buyer joins a funded job as a worker. */
export async function claimJob({ db, actor, jobId }: { db: Db; actor: { agentId: string }; jobId: string }) {
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (job.status !== "funded") {
      throw new AppError(job.status === "expired" ? "JOB_EXPIRED" : "JOB_NOT_FUNDED", `Job is ${job.status}; only a funded job can be claimed`, { status: job.status });
    }
    const worker = await tx.agent.findUnique({ where: { id: actor.agentId } });
    if (!worker) throw new AppError("AGENT_NOT_FOUND", `Agent '${actor.agentId}' is not registered`);
    if (job.buyerId === worker.id) throw new AppError("SELF_CLAIM", "A buyer cannot claim their own job");
    if (worker.reputation < job.minReputation) {
      throw new AppError("REPUTATION_TOO_LOW", `Reputation ${worker.reputation} is below this job's min_reputation ${job.minReputation}`, {
        reputation: worker.reputation,
        min_reputation: job.minReputation,
      });
    }
    const existing = await tx.jobParticipant.findUnique({ where: { jobId_workerId: { jobId, workerId: worker.id } } });
    if (existing) throw new AppError("ALREADY_CLAIMED", "You have already claimed this job");
    const participant = await tx.jobParticipant.create({ data: { jobId, workerId: worker.id } });
    await tx.agent.update({ where: { id: worker.id }, data: { jobsClaimed: { increment: 1 } } });
    return { job, participant, warnings: worker.walletAddress ? [] : [NO_WALLET_WARNING] };
  });
}
