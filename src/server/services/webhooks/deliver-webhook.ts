import type { Db } from "~/server/db";
import { RetryableError } from "~/server/jobs/define";
import { log } from "~/server/log";
import { signWebhook } from "./signature";

const TIMEOUT_MS = 10_000;

/**
 * POSTs one delivery to its webhook, signed per Standard Webhooks, and records the attempt. A
 * 2xx delivers it; anything else (another status, a timeout, a refused connection) is retried
 * by the runner with backoff until the last attempt, which marks it failed. The webhook-id is
 * the delivery's id on every attempt, so a receiver can drop a duplicate.
 */
export async function deliverWebhook({ db, deliveryId, attempt, maxAttempts }: { db: Db; deliveryId: string; attempt: number; maxAttempts: number }) {
  const delivery = await db.webhookDelivery.findUnique({ where: { id: deliveryId }, include: { webhook: true } });
  if (!delivery || delivery.status !== "pending") return delivery;
  if (delivery.webhook.deletedAt) {
    return db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "failed", lastError: "webhook deleted" } });
  }
  const body = JSON.stringify(delivery.payload);
  const timestamp = Math.floor(Date.now() / 1000);
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const response = await fetch(delivery.webhook.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "AgentMarket-Webhooks/1",
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhook(delivery.webhook.secret, delivery.id, timestamp, body),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    statusCode = response.status;
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status >= 300) error = `receiver answered ${response.status}`;
  } catch (err) {
    error = err instanceof Error && err.name === "TimeoutError" ? `no answer within ${TIMEOUT_MS / 1000} s` : `could not connect: ${(err as Error).message}`;
  }
  const last = attempt >= maxAttempts;
  const updated = await db.webhookDelivery.update({
    where: { id: deliveryId },
    data: {
      attempts: { increment: 1 },
      lastStatus: statusCode,
      lastError: error,
      ...(error === null ? { status: "delivered", deliveredAt: new Date() } : last ? { status: "failed" } : {}),
    },
  });
  if (error !== null && !last) throw new RetryableError(`webhook delivery ${deliveryId}: ${error}`);
  if (error !== null) log.warn("webhook delivery failed for good", { deliveryId, webhookId: delivery.webhookId, event: delivery.event, attempts: updated.attempts, error });
  return updated;
}
