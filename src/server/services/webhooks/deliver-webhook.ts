import type { Db } from "~/server/db";
import { RetryableError } from "~/server/jobs/define";
import { log } from "~/server/log";
import { getEnv } from "~/env";
import { AppError } from "~/server/errors";
import http from "node:http";
import https from "node:https";
import { assertPublicDestination, publicOnlyLookup } from "./destination";
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
  try {
    await assertPublicDestination(delivery.webhook.url, { allowPrivate: getEnv().devMode });
  } catch (err) {
    // A host that now points into a private network is never sent to; one that does not
    // resolve may again later, like any failed attempt (below).
    if ((err instanceof AppError ? (err.details as { reason?: string } | undefined)?.reason : undefined) === "private") {
      return db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "failed", attempts: { increment: 1 }, lastError: (err as Error).message } });
    }
  }
  const { statusCode, error } = await post(delivery.webhook.url, delivery.webhook.secret, delivery.id, JSON.stringify(delivery.payload));
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

/**
 * One signed POST over node:http(s) with publicOnlyLookup, so the connection goes only where the
 * destination check allows: the receiver's status, and what went wrong unless it answered 2xx.
 * Redirects are not followed (a 3xx is a failed attempt).
 */
function post(url: string, secret: string, id: string, body: string): Promise<{ statusCode: number | null; error: string | null }> {
  const timestamp = Math.floor(Date.now() / 1000);
  const target = new URL(url);
  const send = target.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve) => {
    const request = send(
      target,
      {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
          "User-Agent": "AgentMarket-Webhooks/1",
          "webhook-id": id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signWebhook(secret, id, timestamp, body),
        },
        lookup: publicOnlyLookup({ allowPrivate: getEnv().devMode }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve({ statusCode: status, error: status >= 200 && status < 300 ? null : `receiver answered ${status}` });
      },
    );
    request.on("error", (err: Error) => {
      const timedOut = err.name === "AbortError" || err.name === "TimeoutError";
      resolve({ statusCode: null, error: timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : `could not connect: ${err.message}` });
    });
    request.end(body);
  });
}
