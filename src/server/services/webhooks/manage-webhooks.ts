import type { Db } from "~/server/db";
import { getEnv } from "~/env";
import { AppError } from "~/server/errors";
import { assertManagesAgent, type ManagingActor } from "~/server/services/agents/assert-manages-agent";
import { getAgent } from "~/server/services/agents/get-agent";
import { WEBHOOK_EVENTS, type WebhookEvent } from "./events";
import { assertPublicDestination } from "./destination";
import { generateWebhookSecret } from "./signature";

const MANAGE_WEBHOOKS = "manage its webhooks";
const MAX_WEBHOOKS_PER_AGENT = 20;

function validUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("VALIDATION_FAILED", "url: must be an absolute http(s) URL", { field: "url" });
  }
  // Outside dev mode deliveries carry signed business data: only over TLS.
  const allowed = getEnv().devMode ? ["https:", "http:"] : ["https:"];
  if (!allowed.includes(url.protocol)) {
    throw new AppError("VALIDATION_FAILED", `url: must use ${allowed.join(" or ").replaceAll(":", "")}`, { field: "url" });
  }
  if (url.username || url.password) throw new AppError("VALIDATION_FAILED", "url: must not carry credentials", { field: "url" });
  return url.toString();
}

/** An agent (or its owner) subscribes a URL to events of the jobs it buys or works on (G04). */
export async function createWebhook({ db, actor, agentId, url, events }: { db: Db; actor: ManagingActor; agentId: string; url: string; events: WebhookEvent[] }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const target = validUrl(url);
  // Dev mode (local receivers, tests) may use loopback and private hosts; production may not.
  await assertPublicDestination(target, { allowPrivate: getEnv().devMode });
  const chosen = events.length === 0 ? [...WEBHOOK_EVENTS] : [...new Set(events)];
  const count = await db.webhook.count({ where: { agentId, deletedAt: null } });
  if (count >= MAX_WEBHOOKS_PER_AGENT) {
    throw new AppError("VALIDATION_FAILED", `url: an agent may have at most ${MAX_WEBHOOKS_PER_AGENT} webhooks; delete one first`, { field: "url" });
  }
  return db.webhook.create({ data: { agentId, url: target, events: chosen, secret: generateWebhookSecret() } });
}

export async function listWebhooks({ db, actor, agentId }: { db: Db; actor: ManagingActor; agentId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  return db.webhook.findMany({ where: { agentId, deletedAt: null }, orderBy: { createdAt: "asc" } });
}

async function findWebhook(db: Db, agentId: string, webhookId: string) {
  const hook = /^[0-9a-f-]{36}$/i.test(webhookId) ? await db.webhook.findFirst({ where: { id: webhookId, agentId, deletedAt: null } }) : null;
  if (!hook) throw new AppError("WEBHOOK_NOT_FOUND", `Webhook '${webhookId}' not found for agent '${agentId}'`);
  return hook;
}

/** Stops deliveries at once (pending ones fail as "webhook deleted"); the delivery log stays. */
export async function deleteWebhook({ db, actor, agentId, webhookId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  await db.webhook.update({ where: { id: hook.id }, data: { deletedAt: new Date() } });
}

export async function listWebhookDeliveries({ db, actor, agentId, webhookId, limit, offset }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string; limit: number; offset: number }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  const [deliveries, total] = await Promise.all([
    db.webhookDelivery.findMany({ where: { webhookId: hook.id }, orderBy: { createdAt: "desc" }, take: limit, skip: offset }),
    db.webhookDelivery.count({ where: { webhookId: hook.id } }),
  ]);
  return { deliveries, total };
}
