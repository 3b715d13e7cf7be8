import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import type { ApiKeyRateLimits } from "~/server/rate-limit/budgets";

/**
 * Sets one key's own budgets (admins only: the procedure is adminProcedure, so an agent cannot
 * raise its own). A field left out stays as it is; null returns it to the global setting. The
 * key's next request is counted against the new budget.
 */
export async function setApiKeyRateLimits({ db, keyId, limits }: { db: Db; keyId: string; limits: Partial<ApiKeyRateLimits> }) {
  const key = await db.apiKey.findUnique({ where: { id: keyId } });
  if (!key) throw new AppError("API_KEY_NOT_FOUND", `API key '${keyId}' not found`);
  return db.apiKey.update({
    where: { id: keyId },
    data: {
      rateLimitReadsPerMinute: limits.readsPerMinute,
      rateLimitWritesPerMinute: limits.writesPerMinute,
      rateLimitSubmissionsPerMinute: limits.submissionsPerMinute,
    },
  });
}
