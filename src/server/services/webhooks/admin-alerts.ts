import type { Prisma } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import { enqueueSafely } from "~/server/jobs/client";
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
    where: { deletedAt: null, events: { has: event }, agent: { isAdmin: true, deactivatedAt: null } },
    select: { id: true },
  });
  const rows = hooks.map((hook) => ({ webhookId: hook.id, jobEventId: sourceId, event, payload }));
  const created = rows.length ? await tx.webhookDelivery.createManyAndReturn({ data: rows, skipDuplicates: true, select: { id: true } }) : [];
  const deliveryIds = created.map((d) => d.id);
  return {
    deliveryIds,
    async send() {
      for (const deliveryId of deliveryIds) await enqueueSafely("deliverWebhook", { deliveryId }, { singletonKey: deliveryId });
    },
  };
}
