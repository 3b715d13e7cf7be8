import type { Prisma } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import { enqueueDeliveryAttempt } from "./deliver-webhook";
import type { WebhookEvent } from "./events";

/** Events about the platform rather than a job: only admin agents' webhooks receive them. */
export type AdminWebhookEvent = Extract<WebhookEvent, "reconciliation.drift">;

/**
 * Queues an admin event for every live webhook of an active admin agent subscribed to it, as
 * ordinary webhook_deliveries rows, so deliverWebhook sends, signs, retries and records them like
 * any job event (and the sweep re-queues one whose attempt was lost). Such an event has no row in
 * job_events: `job_event_id` holds the id of what raised it (a reconciliation run), which keeps the
 * delivery unique per webhook and source. Write the rows in the caller's transaction; call
 * `send()` after it commits.
 */
export async function queueAdminWebhookEvent({
  tx,
  event,
  sourceId,
  payload,
}: {
  tx: DbTx | Db;
  event: AdminWebhookEvent;
  sourceId: string;
  payload: Prisma.InputJsonValue;
}): Promise<{ deliveryIds: string[]; send: () => Promise<void> }> {
  const hooks = await tx.webhook.findMany({
    where: { deletedAt: null, status: "active", events: { has: event }, agent: { isAdmin: true, deactivatedAt: null } },
    select: { id: true },
  });
  // Due at once, like a job event's first attempt; the retry schedule takes it from there.
  const now = new Date();
  const rows = hooks.map((hook) => ({ webhookId: hook.id, jobEventId: sourceId, event, payload, nextAttemptAt: now }));
  const created = rows.length ? await tx.webhookDelivery.createManyAndReturn({ data: rows, skipDuplicates: true, select: { id: true, nextAttemptAt: true } }) : [];
  return {
    deliveryIds: created.map((d) => d.id),
    async send() {
      for (const delivery of created) await enqueueDeliveryAttempt(delivery);
    },
  };
}
