import { getDb } from "~/server/db";
import { enqueueSafely } from "~/server/jobs/client";
import { defineBackgroundFunction } from "~/server/jobs/define";
import { deliverWebhook } from "~/server/services/webhooks/deliver-webhook";
import { dispatchWebhookEvents } from "~/server/services/webhooks/dispatch-webhooks";

/** Turns committed job events into deliveries and queues each (triggered by NOTIFY and the sweep). */
export const dispatchWebhooksFunction = defineBackgroundFunction({
  key: "dispatchWebhooks",
  maxAttempts: 3,
  concurrency: 1,
  timeoutSeconds: 120,
  async handler({ step }) {
    const { deliveryIds, more } = await step.run("dispatch", () => dispatchWebhookEvents({ db: getDb() }));
    for (const deliveryId of deliveryIds) await enqueueSafely("deliverWebhook", { deliveryId }, { singletonKey: deliveryId });
    if (more) await enqueueSafely("dispatchWebhooks", {}, { singletonKey: "dispatch" });
    return { deliveries: deliveryIds.length, more };
  },
});

/** One POST per attempt; the runner retries with backoff (1, 2, 4 s …) until the last attempt. */
export const deliverWebhookFunction = defineBackgroundFunction({
  key: "deliverWebhook",
  maxAttempts: 4,
  concurrency: 8,
  timeoutSeconds: 60,
  async handler({ payload, attempt, maxAttempts, step }) {
    const delivery = await step.run(`attempt-${attempt}`, async () => {
      const row = await deliverWebhook({ db: getDb(), deliveryId: payload.deliveryId, attempt, maxAttempts });
      return row && { status: row.status, attempts: row.attempts };
    });
    return delivery;
  },
});
