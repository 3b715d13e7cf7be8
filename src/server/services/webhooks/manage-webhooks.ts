import type { Db } from "~/server/db";
import { getEnv } from "~/env";
import { AppError } from "~/server/errors";
import { assertManagesAgent, type ManagingActor } from "~/server/services/agents/assert-manages-agent";
import { getAgent } from "~/server/services/agents/get-agent";
import { buildTestPayload } from "~/server/services/events/event-payload";
import { isUuid } from "~/server/input-bounds";
import { WEBHOOK_EVENTS, type WebhookEvent } from "./events";
import { assertPublicDestination } from "./destination";
import { enqueueDeliveryAttempt } from "./deliver-webhook";
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
  const hook = isUuid(webhookId) ? await db.webhook.findFirst({ where: { id: webhookId, agentId, deletedAt: null } }) : null;
  if (!hook) throw new AppError("WEBHOOK_NOT_FOUND", `Webhook '${webhookId}' not found for agent '${agentId}'`);
  return hook;
}

function assertActive(hook: { id: string; status: string; disabledReason: string | null }, action: string) {
  if (hook.status !== "active") {
    throw new AppError("WEBHOOK_DISABLED", `Webhook '${hook.id}' is disabled (${hook.disabledReason ?? "by its owner"}); enable it before you ${action}`, {
      disabled_reason: hook.disabledReason,
    });
  }
}

/** One webhook, with its status (a disabled one says why and since when). */
export async function getWebhook({ db, actor, agentId, webhookId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  return findWebhook(db, agentId, webhookId);
}

/** Stops deliveries at once (pending ones fail as "webhook deleted"); the delivery log stays. */
export async function deleteWebhook({ db, actor, agentId, webhookId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  await db.$transaction(async (tx) => {
    await tx.webhook.update({ where: { id: hook.id }, data: { deletedAt: new Date() } });
    await tx.webhookDelivery.updateMany({ where: { webhookId: hook.id, status: "pending" }, data: { status: "failed", lastError: "webhook deleted", nextAttemptAt: null } });
  });
}

/**
 * Sends to a disabled webhook again, from the next event on; its failure clock starts afresh.
 * What it missed meanwhile: redeliver it, or read it from the event feed (GET /events).
 */
export async function enableWebhook({ db, actor, agentId, webhookId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  if (hook.status === "active") return hook;
  return db.webhook.update({ where: { id: hook.id }, data: { status: "active", disabledAt: null, disabledReason: null, failingSince: null } });
}

/** Queues a `webhook.test` delivery to the webhook; it is signed, logged and retried like any other. */
export async function sendTestEvent({ db, actor, agentId, webhookId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  assertActive(hook, "send a test event");
  const payload = buildTestPayload({ webhookId: hook.id, agentId });
  const delivery = await db.webhookDelivery.create({ data: { webhookId: hook.id, event: payload.event, payload: payload as never, nextAttemptAt: new Date() } });
  await enqueueDeliveryAttempt(delivery);
  return delivery;
}

async function findDelivery(db: Db, webhookId: string, deliveryId: string) {
  const delivery = isUuid(deliveryId) ? await db.webhookDelivery.findFirst({ where: { id: deliveryId, webhookId } }) : null;
  if (!delivery) throw new AppError("WEBHOOK_DELIVERY_NOT_FOUND", `Delivery '${deliveryId}' not found for webhook '${webhookId}'`);
  return delivery;
}

/**
 * Sends a delivery again, whatever became of it, with its original payload and webhook-id (a
 * receiver that handled it already can drop it): a new round of the retry schedule, from now.
 */
export async function redeliverWebhookDelivery({ db, actor, agentId, webhookId, deliveryId }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string; deliveryId: string }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  const delivery = await findDelivery(db, hook.id, deliveryId);
  assertActive(hook, "redeliver");
  const now = new Date();
  const requeued = await db.webhookDelivery.updateMany({
    where: { id: delivery.id, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    data: { status: "pending", roundAttempts: 0, nextAttemptAt: now, deliveredAt: null, lockedUntil: null },
  });
  if (requeued.count === 0) throw new AppError("WEBHOOK_DELIVERY_IN_FLIGHT", "An attempt of this delivery is under way; try again in a few seconds", { delivery_id: delivery.id });
  const updated = await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
  await enqueueDeliveryAttempt(updated);
  return updated;
}

/** A delivery's attempts, newest first. */
export async function listWebhookDeliveryAttempts({ db, actor, agentId, webhookId, deliveryId, limit, offset }: { db: Db; actor: ManagingActor; agentId: string; webhookId: string; deliveryId: string; limit: number; offset: number }) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), MANAGE_WEBHOOKS);
  const hook = await findWebhook(db, agentId, webhookId);
  const delivery = await findDelivery(db, hook.id, deliveryId);
  const [attempts, total] = await Promise.all([
    db.webhookDeliveryAttempt.findMany({ where: { deliveryId: delivery.id }, orderBy: { attempt: "desc" }, take: limit, skip: offset }),
    db.webhookDeliveryAttempt.count({ where: { deliveryId: delivery.id } }),
  ]);
  return { delivery, attempts, total };
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
