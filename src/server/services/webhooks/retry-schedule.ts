// When a webhook delivery is tried again, after the Standard Webhooks / Svix schedule: at once,
// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the attempt before (about 27.5 hours
// in all), each wait varied by up to ±10 % so that deliveries failing together do not come
// back together. WEBHOOK_RETRY_UNIT_MS is how long one "second" of the schedule lasts (1000; tests
// shorten it); Retry-After and the 5-day rule are in real time.

/** Seconds to wait before each attempt, counted from the one before it; the first is at once. */
export const RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;
/** Attempts in one round: after the last one fails, the delivery is failed (a redelivery starts a new round). */
export const ATTEMPTS_PER_ROUND = RETRY_SCHEDULE_SECONDS.length;
const JITTER = 0.1;
/** A receiver's Retry-After is honoured up to this long. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** An endpoint whose every attempt has failed for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3_600_000;

/**
 * How long to wait before the next attempt, once `failedAttempts` attempts of this round have
 * failed; null when that was the last. `random` is in [0, 1).
 */
export function retryDelayMs(failedAttempts: number, { unitMs, random = Math.random }: { unitMs: number; random?: () => number }): number | null {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1 || failedAttempts >= ATTEMPTS_PER_ROUND) return null;
  const base = RETRY_SCHEDULE_SECONDS[failedAttempts]! * unitMs;
  return Math.round(base * (1 + JITTER * (2 * random() - 1)));
}

/**
 * A Retry-After header (delay-seconds or an HTTP date) as milliseconds from `now`, at most
 * MAX_RETRY_AFTER_MS; null when absent, unreadable or already past.
 */
export function parseRetryAfterMs(header: string | undefined, now: Date): number | null {
  if (!header) return null;
  const text = header.trim();
  let ms: number;
  if (/^\d{1,12}$/.test(text)) ms = Number(text) * 1_000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now.getTime();
  }
  if (ms <= 0) return null;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * When the next attempt is due, counted from the end of the failed one: the schedule's wait, or
 * the receiver's Retry-After if that is later; null when none is left.
 */
export function nextAttemptAt({ failedAttempts, after, retryAfterMs, unitMs, random }: { failedAttempts: number; after: Date; retryAfterMs: number | null; unitMs: number; random?: () => number }): Date | null {
  const delay = retryDelayMs(failedAttempts, { unitMs, random });
  if (delay === null) return null;
  return new Date(after.getTime() + Math.max(delay, retryAfterMs ?? 0));
}
