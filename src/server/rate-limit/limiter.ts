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

/**
 * Calls this process may answer without asking the shared store: `left` of a batch of points it
 * took at once, in a window that ends at `windowEnd`. `refused` once the store had none to give.
 */
interface Lease {
  left: number;
  /** What the store had left after this process's last batch (other instances may have taken more since). */
  remainingAtStore: number;
  windowEnd: number;
  refused: boolean;
}

interface BudgetLimiter {
  points: number;
  store: RateLimiterAbstract;
  /** Counts in this process while the shared store fails, so a store outage neither opens nor closes the API. */
  fallback: RateLimiterMemory;
  /** Per counter key; absent for the memory store, which is as cheap as a lease. */
  leases?: Map<string, Lease>;
  /** Batches being taken from the store, per key: concurrent calls wait for one instead of each asking. */
  taking: Map<string, Promise<void>>;
  setsSinceSweep: number;
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
      // No offline queue and a command timeout: while Redis is unreachable or stalled a command
      // fails within a second (and the fallback counts) instead of holding the request.
      state.redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 1_000 });
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
 * A batch is at most a tenth of what the store had left (and never more than 100), so a process
 * takes one point at a time as a budget runs low: one process counts exactly, and points that
 * several processes hold unused (which only ever refuse callers early, never admit too many)
 * stay a small share of the budget.
 */
const LEASE_SHARE = 10;
const MAX_LEASE = 100;

function leaseSize(remaining: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(remaining / LEASE_SHARE)));
}

/**
 * One limiter per budget shape: rate-limiter-flexible fixes `points` per instance, and a key
 * whose admin-set limit differs gets its own instance over the same counters (same prefix).
 */
function limiterFor(state: LimiterState, env: Env, budget: Budget): BudgetLimiter {
  const id = `${budget.policy}:${budget.points}:${budget.windowSeconds}`;
  let limiter = state.limiters.get(id);
  if (limiter) return limiter;
  const options = { keyPrefix: `${env.RATE_LIMIT_KEY_PREFIX}:${budget.policy}`, points: budget.points, duration: budget.windowSeconds };
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
  limiter = { points: budget.points, store, fallback, leases: state.kind === "memory" ? undefined : new Map(), taking: new Map(), setsSinceSweep: 0 };
  state.limiters.set(id, limiter);
  return limiter;
}

function outcome(budget: Budget, remaining: number, msBeforeNext: number, limited: boolean): RateLimitOutcome {
  return {
    policy: budget.policy,
    limit: budget.points,
    windowSeconds: budget.windowSeconds,
    remaining: limited ? 0 : remaining,
    resetSeconds: Math.max(Math.ceil(msBeforeNext / 1000), limited ? 1 : 0),
    limited,
  };
}

/** One call from the store directly: the memory store, and the fallback. */
async function consumeOne(budget: Budget, limiter: RateLimiterAbstract): Promise<RateLimitOutcome> {
  try {
    const res = await limiter.consume(budget.key);
    return outcome(budget, res.remainingPoints, res.msBeforeNext, false);
  } catch (err) {
    if (err instanceof RateLimiterRes) return outcome(budget, 0, err.msBeforeNext, true);
    throw err;
  }
}

/**
 * Takes a batch of points for `key` from the store (rate-limiter-flexible's consume with more
 * than one point: one round trip) and records what was granted. The store counts the whole
 * batch; when it had fewer left, only those are granted, and none means refused until the
 * window ends (no more round trips for a caller over its budget).
 */
async function takeLease(limiter: BudgetLimiter, leases: Map<string, Lease>, key: string, earlier: Lease | undefined): Promise<void> {
  const { points } = limiter;
  const now = Date.now();
  const size = leaseSize(earlier && now < earlier.windowEnd ? earlier.remainingAtStore : points);
  let res: RateLimiterRes;
  try {
    res = await limiter.store.consume(key, size);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    res = err;
  }
  const granted = Math.max(0, Math.min(size, points - (res.consumedPoints - size)));
  leases.set(key, { left: granted, remainingAtStore: Math.max(points - res.consumedPoints, 0), windowEnd: now + res.msBeforeNext, refused: granted === 0 });
  if (++limiter.setsSinceSweep >= 10_000) {
    limiter.setsSinceSweep = 0;
    for (const [k, lease] of leases) if (lease.windowEnd <= now) leases.delete(k);
  }
}

async function consumeLeased(budget: Budget, limiter: BudgetLimiter, leases: Map<string, Lease>): Promise<RateLimitOutcome> {
  for (;;) {
    const lease = leases.get(budget.key);
    const now = Date.now();
    if (lease && now < lease.windowEnd) {
      if (lease.left > 0) {
        lease.left--;
        return outcome(budget, lease.remainingAtStore + lease.left, lease.windowEnd - now, false);
      }
      if (lease.refused) return outcome(budget, 0, lease.windowEnd - now, true);
    }
    let taking = limiter.taking.get(budget.key);
    if (!taking) {
      taking = takeLease(limiter, leases, budget.key, lease).finally(() => limiter.taking.delete(budget.key));
      limiter.taking.set(budget.key, taking);
    }
    await taking;
  }
}

/** Counts one call against `budget`; null when rate limiting is off (RATE_LIMIT_STORE=off). */
export async function consumeBudget(budget: Budget, env: Env = getEnv()): Promise<RateLimitOutcome | null> {
  const state = limiterState(env);
  if (!state) return null;
  if (state.redisConnecting) await state.redisConnecting;
  const limiter = limiterFor(state, env, budget);
  try {
    return limiter.leases ? await consumeLeased(budget, limiter, limiter.leases) : await consumeOne(budget, limiter.store);
  } catch (err) {
    warnStoreFailure(state, err);
    return consumeOne(budget, limiter.fallback);
  }
}

/** Closes the Redis connection (the Postgres store uses the app's pool); the next call starts afresh. */
export async function closeRateLimiter(): Promise<void> {
  const state = globalForLimiter.__agentMarketRateLimiter;
  globalForLimiter.__agentMarketRateLimiter = undefined;
  await state?.redis?.quit().catch(() => state.redis?.disconnect());
}
