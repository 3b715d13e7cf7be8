import http from "node:http";
import https from "node:https";
import type { Webhook, WebhookDelivery } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import { afterCommit } from "~/server/after-commit";
import { enqueueSafely } from "~/server/jobs/client";
import { log } from "~/server/log";
import { getEnv } from "~/env";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/input-bounds";
import { assertPublicDestination, publicOnlyLookup } from "./destination";
import { signWebhook } from "./signature";
import { DISABLE_AFTER_FAILING_MS, nextAttemptAt, parseRetryAfterMs } from "./retry-schedule";

const TIMEOUT_MS = 10_000;
/** An attempt is held this long (longer than TIMEOUT_MS); past it a crashed attempt's delivery is due again. */
const ATTEMPT_LEASE_MS = 60_000;
/** How much of the receiver's answer is read, and how much of it is kept in the attempt log. */
const READ_BYTES = 4_096;
const EXCERPT_CHARS = 1_000;
const ERROR_CHARS = 500;

/**
 * Queues the delivery's next attempt for its due time. Its singleton key names that time, so the
 * sweep's re-enqueue of a lost attempt and the scheduled one collapse into one.
 */
export function enqueueDeliveryAttempt(delivery: { id: string; nextAttemptAt: Date | null }): Promise<void> {
  const due = delivery.nextAttemptAt ?? new Date();
  return enqueueSafely("deliverWebhook", { deliveryId: delivery.id }, { singletonKey: `${delivery.id}@${due.getTime()}`, ...(due.getTime() > Date.now() ? { startAfter: due } : {}) });
}

/**
 * The net under the scheduled attempts: queues deliveries due before `overdueBefore` that no
 * attempt holds (their queued attempt was lost, or the runner was down). At most 500 per call.
 */
export async function enqueueOverdueDeliveries({ db, overdueBefore }: { db: Db; overdueBefore: Date }): Promise<number> {
  const now = new Date();
  const overdue = await db.webhookDelivery.findMany({
    where: { status: "pending", nextAttemptAt: { lt: overdueBefore }, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    select: { id: true, nextAttemptAt: true },
    orderBy: { nextAttemptAt: "asc" },
    take: 500,
  });
  for (const delivery of overdue) await enqueueDeliveryAttempt(delivery);
  return overdue.length;
}

/** What one POST came to. */
interface PostOutcome {
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
  retryAfterMs: number | null;
  /** Not to be tried again (the destination is not allowed). */
  final: boolean;
}

export type DeliverResult = { skipped: string } | { status: WebhookDelivery["status"]; attempt: number; nextAttemptAt: string | null; webhookDisabled: boolean };

/**
 * One attempt of one delivery, if it is due: POSTs it signed per Standard Webhooks and records
 * the attempt (time, status, excerpt of the answer, duration, next attempt). A 2xx delivers it; a
 * 410 Gone fails it and disables the webhook; anything else (another status, a timeout, a refused
 * connection) schedules the next attempt (retry-schedule.ts), or fails it after the last. A
 * webhook whose every attempt has failed for 5 days is disabled. The webhook-id is the delivery's
 * id on every attempt, so a receiver can drop a duplicate.
 */
export async function deliverWebhook({ db, deliveryId }: { db: Db; deliveryId: string }): Promise<DeliverResult> {
  if (!isUuid(deliveryId)) return { skipped: "no such delivery" };
  // Taking the attempt is one conditional update: two runners never send the same delivery at
  // once. "Due" is judged by the database's clock, as the queue's startAfter is.
  const taken = await db.$executeRaw`
    UPDATE webhook_deliveries SET locked_until = (now() AT TIME ZONE 'UTC') + make_interval(secs => ${ATTEMPT_LEASE_MS / 1000})
    WHERE id = ${deliveryId}::uuid AND status = 'pending' AND next_attempt_at <= (now() AT TIME ZONE 'UTC')
      AND (locked_until IS NULL OR locked_until < (now() AT TIME ZONE 'UTC'))`;
  if (taken === 0) return { skipped: "not due" };
  const startedAt = new Date();
  const delivery = await db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId }, include: { webhook: true } });
  const hook = delivery.webhook;
  if (hook.deletedAt || hook.status === "disabled") {
    const reason = hook.deletedAt ? "webhook deleted" : `webhook disabled: ${hook.disabledReason ?? "by its owner"}`;
    await db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "failed", lastError: reason, nextAttemptAt: null, lockedUntil: null } });
    return { skipped: reason };
  }

  const refused = await privateDestination(hook.url);
  const outcome: PostOutcome = refused
    ? { statusCode: null, error: bounded(refused, ERROR_CHARS), responseExcerpt: null, retryAfterMs: null, final: true }
    : await post(hook.url, hook.secret, delivery.id, JSON.stringify(delivery.payload));
  const finishedAt = new Date();
  return recordAttempt({ db, delivery, startedAt, finishedAt, outcome });
}

/**
 * Why a destination is refused: a host that now points into a private network is never sent to
 * (and not tried again). One that does not resolve may again later: the POST fails and is retried.
 */
async function privateDestination(url: string): Promise<string | null> {
  try {
    await assertPublicDestination(url, { allowPrivate: getEnv().devMode });
    return null;
  } catch (err) {
    const reason = err instanceof AppError ? (err.details as { reason?: string } | undefined)?.reason : undefined;
    return reason === "private" ? (err as Error).message : null;
  }
}

/** Writes the attempt and its consequences (delivery, webhook health) in one transaction, under the webhook's row lock. */
async function recordAttempt({ db, delivery, startedAt, finishedAt, outcome }: { db: Db; delivery: WebhookDelivery; startedAt: Date; finishedAt: Date; outcome: PostOutcome }): Promise<DeliverResult> {
  return db.$transaction(async (tx) => {
    // Serialises what attempts of one webhook decide about it (failing since, disabled).
    const [hook] = await tx.$queryRaw<Pick<Webhook, "status" | "failingSince" | "disabledReason">[]>`
      SELECT status::text AS status, failing_since AS "failingSince", disabled_reason AS "disabledReason" FROM webhooks WHERE id = ${delivery.webhookId}::uuid FOR UPDATE`;
    const delivered = outcome.error === null;
    const gone = outcome.statusCode === 410;
    const failingSince = delivered ? null : (hook!.failingSince ?? startedAt);
    let disableReason: string | null = null;
    if (gone) disableReason = "the receiver answered 410 Gone";
    else if (failingSince && finishedAt.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
      disableReason = `every attempt failed for 5 days (since ${failingSince.toISOString()})`;
    }
    const roundAttempts = delivery.roundAttempts + 1;
    const stillActive = hook!.status === "active" && disableReason === null;
    const next =
      delivered || outcome.final || !stillActive
        ? null
        : nextAttemptAt({ failedAttempts: roundAttempts, after: finishedAt, retryAfterMs: outcome.retryAfterMs, unitMs: getEnv().WEBHOOK_RETRY_UNIT_MS });
    const attempt = delivery.attempts + 1;
    await tx.webhookDeliveryAttempt.create({
      data: {
        deliveryId: delivery.id,
        attempt,
        attemptedAt: startedAt,
        durationMs: Math.min(finishedAt.getTime() - startedAt.getTime(), 2_147_483_647),
        statusCode: outcome.statusCode,
        error: outcome.error,
        responseExcerpt: outcome.responseExcerpt,
        nextAttemptAt: next,
      },
    });
    const status = delivered ? "delivered" : next ? "pending" : "failed";
    const stoppedBy = hook!.status === "active" ? disableReason : (hook!.disabledReason ?? "by its owner");
    const lastError = status === "failed" && stoppedBy ? `${outcome.error}; webhook disabled: ${stoppedBy}` : outcome.error;
    const updated = await tx.webhookDelivery.update({
      where: { id: delivery.id },
      data: { attempts: attempt, roundAttempts, lastStatus: outcome.statusCode, lastError, status, nextAttemptAt: next, lockedUntil: null, ...(delivered ? { deliveredAt: finishedAt } : {}) },
    });
    if (hook!.status === "active") {
      await tx.webhook.update({ where: { id: delivery.webhookId }, data: { failingSince } });
      if (disableReason) await disableWebhook(tx, delivery.webhookId, disableReason, finishedAt);
    }
    if (next) await afterCommit(tx, `next-attempt:${delivery.id}`, () => enqueueDeliveryAttempt(updated));
    if (status === "failed") log.warn("webhook delivery failed for good", { deliveryId: delivery.id, webhookId: delivery.webhookId, event: delivery.event, attempts: attempt, error: lastError });
    return { status, attempt, nextAttemptAt: next?.toISOString() ?? null, webhookDisabled: disableReason !== null };
  });
}

/**
 * Stops a webhook until its owner enables it again: the reason and time are on the webhook (GET
 * responses and the console show them), and its pending deliveries fail, naming the reason.
 */
export async function disableWebhook(tx: DbTx, webhookId: string, reason: string, at = new Date()): Promise<void> {
  await tx.webhook.update({ where: { id: webhookId }, data: { status: "disabled", disabledAt: at, disabledReason: reason } });
  await tx.webhookDelivery.updateMany({ where: { webhookId, status: "pending" }, data: { status: "failed", lastError: `webhook disabled: ${reason}`, nextAttemptAt: null } });
  log.warn("webhook disabled", { webhookId, reason });
}

/** Text for a log column: at most `max` characters, no NUL (Postgres text cannot hold it). */
function bounded(text: string, max: number): string {
  const clean = text.replaceAll("\u0000", "\uFFFD");
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/**
 * One signed POST over node:http(s) with publicOnlyLookup, so the connection goes only where the
 * destination check allows: the receiver's status, the start of its answer, its Retry-After, and
 * what went wrong unless it answered 2xx. Redirects are not followed (a 3xx is a failed attempt).
 */
function post(url: string, secret: string, id: string, body: string): Promise<PostOutcome> {
  const timestamp = Math.floor(Date.now() / 1000);
  const target = new URL(url);
  const send = target.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<PostOutcome, "final">) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, final: false });
    };
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
        const status = response.statusCode ?? 0;
        const retryAfter = response.headers["retry-after"];
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          // Cut at a byte count, then decoded: a character split at the cut becomes U+FFFD, never a lone surrogate.
          const text = Buffer.concat(chunks).subarray(0, READ_BYTES).toString("utf8");
          finish({
            statusCode: status,
            error: status >= 200 && status < 300 ? null : `receiver answered ${status}`,
            responseExcerpt: text.length > 0 ? bounded(text, EXCERPT_CHARS) : null,
            retryAfterMs: parseRetryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, new Date()),
          });
        };
        response.on("data", (chunk: Buffer) => {
          if (size >= READ_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
          // Enough to show; the rest is not read.
          if (size >= READ_BYTES) {
            done();
            response.destroy();
          }
        });
        response.on("end", done);
        response.on("close", done);
        response.on("error", done);
      },
    );
    request.on("error", (err: Error) => {
      const timedOut = err.name === "AbortError" || err.name === "TimeoutError";
      finish({
        statusCode: null,
        error: timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : bounded(`could not connect: ${err.message}`, ERROR_CHARS),
        responseExcerpt: null,
        retryAfterMs: null,
      });
    });
    request.end(body);
  });
}
