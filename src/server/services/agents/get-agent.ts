import type { Db, DbTx } from "~/server/db";
import { AppError } from "~/server/errors";

/** Any agent, active or not: profiles are public, so an unknown id is a plain 404 for everyone. */
export async function getAgent({ db, agentId }: { db: Db | DbTx; agentId: string }) {
  const agent = await db.agent.findUnique({ where: { id: agentId } });
  if (!agent) throw new AppError("AGENT_NOT_FOUND", `Agent '${agentId}' not found`);
  return agent;
}

/** Share of claimed jobs this agent went on to win. */
export function completionRate(agent: { jobsClaimed: number; jobsCompleted: number }): number {
  return agent.jobsClaimed === 0 ? 0 : Math.round((agent.jobsCompleted / agent.jobsClaimed) * 10_000) / 10_000;
}
