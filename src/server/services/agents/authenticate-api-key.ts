import type { Db } from "~/server/db";
import { hashApiKey } from "./api-key-secret";

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The live key behind a bearer token, or null. Revoking the key or deactivating its agent takes
 * effect on the next request. One statement: the unique key_hash index, and the agent's row by
 * its primary key as a relation filter in the same WHERE.
 */
export async function authenticateApiKey({ db, token }: { db: Db; token: string }) {
  const key = await db.apiKey.findFirst({
    where: { keyHash: hashApiKey(token), revokedAt: null, agent: { deactivatedAt: null } },
    select: { id: true, agentId: true, lastUsedAt: true },
  });
  if (!key) return null;
  const now = Date.now();
  // Record use at most once a minute per key, so hot keys do not write on every request.
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    void db.apiKey
      .updateMany({ where: { id: key.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - LAST_USED_RESOLUTION_MS) } }] }, data: { lastUsedAt: new Date(now) } })
      .catch(() => undefined);
  }
  return { id: key.id, agentId: key.agentId };
}
