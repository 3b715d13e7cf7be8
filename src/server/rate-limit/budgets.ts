import type { Env } from "~/env";

/**
 * What a call costs. Each procedure has one class, declared with the procedure
 * (`ProcedureMeta.rateLimit` in src/server/api/trpc.ts); queries default to `read` and
 * mutations to `write`.
 */
export type RateLimitClass = "read" | "write" | "submit" | "signup" | "faucet";

/** Budgets an admin set on one API key (api_keys.rate_limit_*); null: the global setting. */
export interface ApiKeyRateLimits {
  readsPerMinute: number | null;
  writesPerMinute: number | null;
  submissionsPerMinute: number | null;
}

export const NO_KEY_OVERRIDES: ApiKeyRateLimits = { readsPerMinute: null, writesPerMinute: null, submissionsPerMinute: null };

/** Who a call is counted against: the same shapes as ctx.actor. */
export type RateLimitedActor =
  | { kind: "agent"; apiKeyId: string; rateLimits: ApiKeyRateLimits }
  | { kind: "owner"; ownerId: string }
  | { kind: "anonymous" };

/** One budget: `points` calls per `windowSeconds`, counted under `key`; `policy` names it in headers. */
export interface Budget {
  policy: string;
  key: string;
  points: number;
  windowSeconds: number;
}

const MINUTE = 60;
const HOUR = 3600;

/** The budgets a key has now: its overrides, else the settings. Shown in the key listing. */
export function effectiveKeyLimits(env: Env, overrides: ApiKeyRateLimits): { readsPerMinute: number; writesPerMinute: number; submissionsPerMinute: number } {
  return {
    readsPerMinute: overrides.readsPerMinute ?? env.RATE_LIMIT_READS_PER_MINUTE,
    writesPerMinute: overrides.writesPerMinute ?? env.RATE_LIMIT_WRITES_PER_MINUTE,
    submissionsPerMinute: overrides.submissionsPerMinute ?? env.RATE_LIMIT_SUBMISSIONS_PER_MINUTE,
  };
}

/**
 * The one table of who pays for what:
 * - sign-ups and the faucet: per client address, whatever credential is sent. A sign-up is
 *   anything that mints a new budget — an agent (registration, an owner's new agent), an owner, an
 *   API key — so keys and agents cannot be multiplied faster than the address's sign-ups allow;
 * - an API key: reads, writes and submissions each have their own budget per key;
 * - a console owner: reads and writes per owner (submissions need an agent's key);
 * - no credential, or one that is not valid: one budget per client address for everything.
 */
export function budgetFor({ env, actor, clientAddress, rateLimitClass }: { env: Env; actor: RateLimitedActor; clientAddress: string; rateLimitClass: RateLimitClass }): Budget {
  if (rateLimitClass === "signup") return { policy: "signups", key: `addr:${clientAddress}`, points: env.RATE_LIMIT_SIGNUPS_PER_HOUR, windowSeconds: HOUR };
  if (rateLimitClass === "faucet") return { policy: "faucet", key: `addr:${clientAddress}`, points: env.RATE_LIMIT_FAUCET_PER_HOUR, windowSeconds: HOUR };
  if (actor.kind === "agent") {
    const limits = effectiveKeyLimits(env, actor.rateLimits);
    const key = `key:${actor.apiKeyId}`;
    if (rateLimitClass === "read") return { policy: "reads", key, points: limits.readsPerMinute, windowSeconds: MINUTE };
    if (rateLimitClass === "submit") return { policy: "submissions", key, points: limits.submissionsPerMinute, windowSeconds: MINUTE };
    return { policy: "writes", key, points: limits.writesPerMinute, windowSeconds: MINUTE };
  }
  if (actor.kind === "owner") {
    const key = `owner:${actor.ownerId}`;
    if (rateLimitClass === "read") return { policy: "owner-reads", key, points: env.RATE_LIMIT_OWNER_READS_PER_MINUTE, windowSeconds: MINUTE };
    return { policy: "owner-writes", key, points: env.RATE_LIMIT_OWNER_WRITES_PER_MINUTE, windowSeconds: MINUTE };
  }
  return { policy: "address", key: `addr:${clientAddress}`, points: env.RATE_LIMIT_ADDRESS_PER_MINUTE, windowSeconds: MINUTE };
}
