import { getDb } from "~/server/db";
import { enqueueSafely } from "~/server/jobs/client";
import { defineBackgroundFunction } from "~/server/jobs/define";
import { deliverWebhook } from "~/server/services/webhooks/deliver-webhook";
import { publishJobEvents } from "~/server/services/events/publish-job-events";

const BUSY_RETRY_MS = 250;

/**
 * Publishes committed job events to the feed and to webhook deliveries, which it queues
 * (triggered after each commit that wrote events, and by the sweep).
 */
export const dispatchWebhooksFunction = defineBackgroundFunction({
  key: "dispatchWebhooks",
  maxAttempts: 3,
  concurrency: 1,
  timeoutSeconds: 120,
  async handler({ step }) {
    const { deliveryIds, published, more, busy } = await step.run("publish", () => publishJobEvents({ db: getDb() }));
    if (more) await enqueueSafely("dispatchWebhooks", {}, { singletonKey: "dispatch" });
    // Another publication was running and may have begun before this one's events committed.
    if (busy) await enqueueSafely("dispatchWebhooks", {}, { singletonKey: "dispatch-busy", startAfter: new Date(Date.now() + BUSY_RETRY_MS) });
    return { published, deliveries: deliveryIds.length, more, busy };
  },
});

/**
 * One attempt of one delivery, when it is due. Later attempts are queued for their time by the
 * attempt before (retry-schedule.ts), not by the runner's retries, which only cover an attempt
 * that could not be recorded (the database was away).
 */
export const deliverWebhookFunction = defineBackgroundFunction({
  key: "deliverWebhook",
  maxAttempts: 3,
  concurrency: 8,
  timeoutSeconds: 60,
  async handler({ payload, step }) {
    return step.run("attempt", () => deliverWebhook({ db: getDb(), deliveryId: payload.deliveryId }));
  },
});
