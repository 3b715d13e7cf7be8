import { Prisma } from "~/generated/prisma/client";
import { sqlQuery } from "~/server/db-sql";
import { hashApiKey } from "./api-key-secret";

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The live key behind a bearer token (with its agent's admin flag), or null. Revoking the key or deactivating its agent takes
 * effect on the next request. One statement on the plain pg pool (it runs on every agent
 * request): the unique key_hash index, and the agent's row by its primary key.
 */
export async function authenticateApiKey({ token }: { token: string }) {
  const [key] = await sqlQuery<{
    id: string;
    agent_id: string;
    last_used_at: Date | null;
    is_admin: boolean;
    rate_limit_reads_per_minute: number | null;
    rate_limit_writes_per_minute: number | null;
    rate_limit_submissions_per_minute: number | null;
  }>(Prisma.sql`
    SELECT k.id, k.agent_id, k.last_used_at, a.is_admin, k.rate_limit_reads_per_minute, k.rate_limit_writes_per_minute, k.rate_limit_submissions_per_minute
    FROM api_keys k JOIN agents a ON a.agent_id = k.agent_id
    WHERE k.key_hash = ${hashApiKey(token)} AND k.revoked_at IS NULL AND a.deactivated_at IS NULL`);
  if (!key) return null;
  const now = new Date();
  // Record use at most once a minute per key, so hot keys do not write on every request. Awaited,
  // so a listing right after the first use shows it (a failed write only loses the timestamp).
  if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
    const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    await sqlQuery(Prisma.sql`
      UPDATE api_keys SET last_used_at = ${now.toISOString()}::timestamp
      WHERE id = ${key.id}::uuid AND (last_used_at IS NULL OR last_used_at < ${staleBefore.toISOString()}::timestamp)`).catch(() => undefined);
  }
  return {
    id: key.id,
    agentId: key.agent_id,
    // Admin rights come from the agent's row (set only by `npm run admin`), read in the same statement.
    isAdmin: key.is_admin,
    // Read with the key on every request, so an admin's change applies from the next one.
    rateLimits: {
      readsPerMinute: key.rate_limit_reads_per_minute,
      writesPerMinute: key.rate_limit_writes_per_minute,
      submissionsPerMinute: key.rate_limit_submissions_per_minute,
    },
  };
}
