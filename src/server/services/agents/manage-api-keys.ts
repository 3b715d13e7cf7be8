import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { generateApiKeySecret } from "./api-key-secret";
import { assertManagesAgent, type ManagingActor } from "./assert-manages-agent";
import { getAgent } from "./get-agent";

const MANAGE_KEYS = "manage its API keys";

export async function createApiKey({ db, actor, agentId }: { db: Db; actor: ManagingActor; agentId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_KEYS);
  const secret = generateApiKeySecret();
  const key = await db.apiKey.create({ data: { agentId, prefix: secret.prefix, keyHash: secret.hash } });
  return { key, plaintext: secret.plaintext };
}

export async function listApiKeys({ db, actor, agentId }: { db: Db; actor: ManagingActor; agentId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_KEYS);
  return db.apiKey.findMany({ where: { agentId }, orderBy: { createdAt: "asc" } });
}

export async function revokeApiKey({ db, actor, agentId, keyId }: { db: Db; actor: ManagingActor; agentId: string; keyId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_KEYS);
  const key = await db.apiKey.findFirst({ where: { id: keyId, agentId } });
  if (!key) throw new AppError("API_KEY_NOT_FOUND", `API key '${keyId}' not found for agent '${agentId}'`);
  if (key.revokedAt) return key;
  return db.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
}
