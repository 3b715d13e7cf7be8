import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { getEnv, type Env } from "~/env";
import { getSqlPool } from "~/server/db-sql";
import { log } from "~/server/log";
import type { Budget } from "./budgets";

/** What one call did to its budget; the response headers are made from these. */
export interface RateLimitOutcome {
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  /** Seconds until the window ends and the budget is whole again. */
  resetSeconds: number;
  /** True when this call was refused. */
  limited: boolean;
}

interface BudgetLimiter {
  store: RateLimiterAbstract;
  /** Counts in this process while the shared store fails, so a store outage neither opens nor closes the API. */
  fallback: RateLimiterMemory;
}

interface LimiterState {
  kind: "postgres" | "redis" | "memory";
  redis?: Redis;
  /** Until Redis first answers: the first calls wait for it (up to 2 s) rather than count locally. */
  redisConnecting?: Promise<void>;
  limiters: Map<string, BudgetLimiter>;
  lastStoreWarning: number;
}

const globalForLimiter = globalThis as unknown as { __agentMarketRateLimiter?: LimiterState | null };

function limiterState(env: Env): LimiterState | null {
  if (globalForLimiter.__agentMarketRateLimiter !== undefined) return globalForLimiter.__agentMarketRateLimiter;
  const kind = env.rateLimitStore;
  let state: LimiterState | null = null;
  if (kind !== "off") {
    state = { kind, limiters: new Map(), lastStoreWarning: 0 };
    if (kind === "redis") {
      // No offline queue: while Redis is unreachable a command fails at once (and the fallback
      // counts) instead of waiting for a reconnect with the request hanging on it.
      state.redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
      state.redis.on("error", (err) => warnStoreFailure(state!, err));
      const redis = state.redis;
      state.redisConnecting = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        redis.once("ready", () => {
          clearTimeout(timer);
          resolve();
        });
      }).then(() => {
        state!.redisConnecting = undefined;
      });
    }
  }
  globalForLimiter.__agentMarketRateLimiter = state;
  return state;
}

function warnStoreFailure(state: LimiterState, err: unknown): void {
  const now = Date.now();
  if (now - state.lastStoreWarning < 60_000) return;
  state.lastStoreWarning = now;
  log.warn("rate-limit store failed; counting in this process until it answers", { store: state.kind, error: String(err) });
}

/**
 * One limiter per budget shape: rate-limiter-flexible fixes `points` per instance, and a key
 * whose admin-set limit differs gets its own instance over the same counters (same prefix).
 */
function limiterFor(state: LimiterState, env: Env, budget: Budget): BudgetLimiter {
  const id = `${budget.policy}:${budget.points}:${budget.windowSeconds}`;
  let limiter = state.limiters.get(id);
  if (limiter) return limiter;
  const options = {
    keyPrefix: `${env.RATE_LIMIT_KEY_PREFIX}:${budget.policy}`,
    points: budget.points,
    duration: budget.windowSeconds,
    // A caller over its budget is refused from memory until its window ends: no store round trip
    // per refused call, so a flood costs the store one write per window and process.
    inMemoryBlockOnConsumed: budget.points + 1,
  };
  const fallback = new RateLimiterMemory({ keyPrefix: options.keyPrefix, points: budget.points, duration: budget.windowSeconds });
  let store: RateLimiterAbstract;
  if (state.kind === "postgres") {
    // The table comes from the migrations (UNLOGGED); only the first instance sweeps expired rows.
    store = new RateLimiterPostgres({ ...options, storeClient: getSqlPool(), storeType: "pool", tableName: "rate_limits", tableCreated: true, clearExpiredByTimeout: state.limiters.size === 0 });
  } else if (state.kind === "redis") {
    store = new RateLimiterRedis({ ...options, storeClient: state.redis, rejectIfRedisNotReady: true });
  } else {
    store = new RateLimiterMemory(options);
  }
  limiter = { store, fallback };
  state.limiters.set(id, limiter);
  return limiter;
}

function outcomeOf(budget: Budget, res: RateLimiterRes, limited: boolean): RateLimitOutcome {
  return {
    policy: budget.policy,
    limit: budget.points,
    windowSeconds: budget.windowSeconds,
    remaining: limited ? 0 : res.remainingPoints,
    resetSeconds: Math.max(Math.ceil(res.msBeforeNext / 1000), limited ? 1 : 0),
    limited,
  };
}

/** Counts one call against `budget`; null when rate limiting is off (RATE_LIMIT_STORE=off). */
export async function consumeBudget(budget: Budget, env: Env = getEnv()): Promise<RateLimitOutcome | null> {
  const state = limiterState(env);
  if (!state) return null;
  if (state.redisConnecting) await state.redisConnecting;
  const limiter = limiterFor(state, env, budget);
  try {
    return outcomeOf(budget, await limiter.store.consume(budget.key), false);
  } catch (err) {
    if (err instanceof RateLimiterRes) return outcomeOf(budget, err, true);
    warnStoreFailure(state, err);
  }
  try {
    return outcomeOf(budget, await limiter.fallback.consume(budget.key), false);
  } catch (err) {
    if (err instanceof RateLimiterRes) return outcomeOf(budget, err, true);
    throw err;
  }
}

/** Closes the Redis connection (the Postgres store uses the app's pool); the next call starts afresh. */
export async function closeRateLimiter(): Promise<void> {
  const state = globalForLimiter.__agentMarketRateLimiter;
  globalForLimiter.__agentMarketRateLimiter = undefined;
  await state?.redis?.quit().catch(() => state.redis?.disconnect());
}
