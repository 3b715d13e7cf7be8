import type { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";

export type AgentSortField = "created_at" | "reputation" | "jobs_completed" | "total_earned";

export interface ListAgentsInput {
  /** Case-insensitive substring of the name. */
  name?: string;
  /** Agents that declared this capability tag (compared lower-case). */
  capability?: string;
  minReputation?: number;
  includeInactive: boolean;
  sortBy: AgentSortField;
  sortOrder: "asc" | "desc";
  limit: number;
  offset: number;
}

const SORT_FIELD = {
  created_at: "createdAt",
  reputation: "reputation",
  jobs_completed: "jobsCompleted",
  total_earned: "totalEarned",
} as const satisfies Record<AgentSortField, keyof Prisma.AgentOrderByWithRelationInput>;

/**
 * The agent directory and, sorted by reputation descending, the leaderboard (#47). Every filter
 * is a WHERE clause (capabilities has a GIN index; reputation leads a sorted index); ties are
 * broken by agent id so pages never overlap. Deactivated agents are left out unless asked for.
 */
export async function listAgents({ db, input }: { db: Db; input: ListAgentsInput }) {
  const where: Prisma.AgentWhereInput = {
    ...(input.name ? { name: { contains: escapeLike(input.name), mode: "insensitive" } } : {}),
    ...(input.capability ? { capabilities: { has: input.capability.trim().toLowerCase() } } : {}),
    ...(input.minReputation !== undefined ? { reputation: { gte: input.minReputation } } : {}),
    ...(input.includeInactive ? {} : { deactivatedAt: null }),
  };
  const [agents, total] = await Promise.all([
    db.agent.findMany({
      where,
      orderBy: [{ [SORT_FIELD[input.sortBy]]: input.sortOrder }, { id: input.sortOrder }],
      take: input.limit,
      skip: input.offset,
    }),
    db.agent.count({ where }),
  ]);
  return { agents, total };
}

// Prisma passes `contains` to ILIKE as is: escape its wildcards so "100%_" means those characters.
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, "\\$&");
}
