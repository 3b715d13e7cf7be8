import type { Db } from "~/server/db";
import { hashApiKey } from "./api-key-secret";

const LAST_USED_RESOLUTION_MS = 60_000;

/** The live key behind a bearer token, or null. Revocation takes effect on the next request. */
export async function authenticateApiKey({ db, token }: { db: Db; token: string }) {
  const key = await db.apiKey.findUnique({
    where: { keyHash: hashApiKey(token) },
    select: { id: true, agentId: true, revokedAt: true, lastUsedAt: true },
  });
  if (!key || key.revokedAt) return null;
  const now = Date.now();
  // Record use at most once a minute per key, so hot keys do not write on every request.
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    void db.apiKey
      .updateMany({ where: { id: key.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - LAST_USED_RESOLUTION_MS) } }] }, data: { lastUsedAt: new Date(now) } })
      .catch(() => undefined);
  }
  return { id: key.id, agentId: key.agentId };
}
