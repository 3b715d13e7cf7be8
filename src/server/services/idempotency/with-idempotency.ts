import { createHash } from "node:crypto";
import type { Db } from "~/server/db";
import { AppError, toAppError, type AppErrorCode } from "~/server/errors";
import { Prisma } from "~/generated/prisma/client";
import { instanceAliveSql, processInstanceId } from "~/server/process-presence";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
// Answers that depend on the moment, not on the request: a retry with the same key must be
// able to succeed later, so they are not kept (like server errors).
const MOMENTARY_ERRORS = new Set<AppErrorCode>(["DEPOSIT_UNCONFIRMED", "DEPOSIT_NOT_FOUND", "JUDGING_IN_PROGRESS", "RATE_LIMITED", "WALLET_NOT_PROVEN"]);

// A key whose first request never finished may be taken over after this, or at once when the
// process that ran it is known to be gone (it recorded its instance id).
const ABANDONED_AFTER_MS = 5 * 60 * 1000;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function hashRequest(operation: string, input: unknown): string {
  return createHash("sha256").update(operation).update("\0").update(JSON.stringify(canonical(input) ?? null)).digest("hex");
}

interface StoredResponse {
  ok: boolean;
  data?: unknown;
  error?: { code: AppErrorCode; message: string; details?: Record<string, unknown> };
}

/**
 * Runs `operation` at most once per (agent, Idempotency-Key) for 24 h (G17). The same key with
 * the same request returns the first outcome (its data, or the same 4xx error); with a different
 * request it is a 422; while the first is still running it is a 409. Server errors and momentary
 * refusals (a deposit not yet confirmed, judging in progress) are not kept, so the client may
 * retry them with the same key.
 */
export async function withIdempotency<T>({
  db,
  agentId,
  key,
  operation,
  input,
  run,
}: {
  db: Db;
  agentId: string;
  key: string | undefined;
  operation: string;
  input: unknown;
  run: () => Promise<T>;
}): Promise<T> {
  if (!key) return run();
  if (key.length > 255) throw new AppError("VALIDATION_FAILED", "Idempotency-Key: at most 255 characters", { field: "Idempotency-Key" });
  const requestHash = hashRequest(operation, input);
  const now = Date.now();

  const instanceId = processInstanceId() ?? null;
  const claimed = await db.$queryRaw<{ key: string }[]>`
    INSERT INTO idempotency_keys (agent_id, key, request_hash, method, path, created_at, instance_id)
    VALUES (${agentId}, ${key}, ${requestHash}, 'POST', ${operation}, now(), ${instanceId})
    ON CONFLICT (agent_id, key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, path = EXCLUDED.path, created_at = now(), response_status = NULL, response_body = NULL, instance_id = EXCLUDED.instance_id
      WHERE idempotency_keys.created_at < ${new Date(now - IDEMPOTENCY_TTL_MS)}
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.created_at < ${new Date(now - ABANDONED_AFTER_MS)})
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.instance_id IS NOT NULL AND NOT ${Prisma.raw(instanceAliveSql("idempotency_keys.instance_id"))})
    RETURNING key`;

  if (claimed.length === 0) {
    const existing = await db.idempotencyKey.findUniqueOrThrow({ where: { agentId_key: { agentId, key } } });
    if (existing.requestHash !== requestHash) {
      throw new AppError("IDEMPOTENCY_KEY_REUSED", "Idempotency-Key: already used for a different request in the last 24 hours", { field: "Idempotency-Key" });
    }
    if (existing.responseStatus === null || existing.responseBody === null) {
      throw new AppError("IDEMPOTENCY_KEY_IN_USE", "Idempotency-Key: a request with this key is still in progress; retry shortly", { field: "Idempotency-Key" });
    }
    const stored = JSON.parse(existing.responseBody) as StoredResponse;
    if (stored.ok) return stored.data as T;
    throw new AppError(stored.error!.code, stored.error!.message, stored.error!.details);
  }

  try {
    const data = await run();
    await db.idempotencyKey.update({
      where: { agentId_key: { agentId, key } },
      data: { responseStatus: 200, responseBody: JSON.stringify({ ok: true, data } satisfies StoredResponse, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) },
    });
    return data;
  } catch (err) {
    const appError = toAppError(err);
    if (appError.httpStatus < 500 && !MOMENTARY_ERRORS.has(appError.code)) {
      await db.idempotencyKey.update({
        where: { agentId_key: { agentId, key } },
        data: { responseStatus: appError.httpStatus, responseBody: JSON.stringify({ ok: false, error: { code: appError.code, message: appError.message, details: appError.details } } satisfies StoredResponse) },
      });
    } else {
      await db.idempotencyKey.delete({ where: { agentId_key: { agentId, key } } }).catch(() => undefined);
    }
    throw err;
  }
}

/** Keys older than the replay window are of no further use. */
export async function deleteExpiredIdempotencyKeys(db: Db): Promise<number> {
  const result = await db.idempotencyKey.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - IDEMPOTENCY_TTL_MS) } } });
  return result.count;
}
