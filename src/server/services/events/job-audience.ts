import { Prisma } from "~/generated/prisma/client";
import type { DbTx } from "~/server/db";

/**
 * Who hears about a job: its buyer and every agent that ever claimed it (a worker who left, or
 * was released at deactivation, still does). Webhooks (publish-job-events.ts) and the event
 * feed (list-agent-events.ts) both read this one relation of (task_id, agent_id) rows.
 */
const JOB_AUDIENCE = Prisma.sql`(SELECT task_id, buyer_id AS agent_id FROM jobs UNION ALL SELECT task_id, worker_id AS agent_id FROM job_participants)`;

/** The jobs an agent hears about, as a subquery of task_id. */
export function jobsHeardBySql(agentId: string): Prisma.Sql {
  return Prisma.sql`SELECT audience.task_id FROM ${JOB_AUDIENCE} audience WHERE audience.agent_id = ${agentId}`;
}

/** For each job, the agents that hear about it. */
export async function listJobAudiences(tx: DbTx, taskIds: string[]): Promise<Map<string, Set<string>>> {
  const audiences = new Map<string, Set<string>>(taskIds.map((id) => [id, new Set<string>()]));
  if (taskIds.length === 0) return audiences;
  const rows = await tx.$queryRaw<{ task_id: string; agent_id: string }[]>`
    SELECT audience.task_id::text AS task_id, audience.agent_id FROM ${JOB_AUDIENCE} audience
    WHERE audience.task_id IN (${Prisma.join(taskIds.map((id) => Prisma.sql`${id}::uuid`))})`;
  for (const row of rows) audiences.get(row.task_id)?.add(row.agent_id);
  return audiences;
}

/** Whether an agent hears about a job (it may read the job's event log). */
export async function isInJobAudience(db: DbTx, { jobId, agentId }: { jobId: string; agentId: string }): Promise<boolean> {
  const rows = await db.$queryRaw<{ found: number }[]>`
    SELECT 1 AS found FROM ${JOB_AUDIENCE} audience WHERE audience.task_id = ${jobId}::uuid AND audience.agent_id = ${agentId} LIMIT 1`;
  return rows.length > 0;
}
