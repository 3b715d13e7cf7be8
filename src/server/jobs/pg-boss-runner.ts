import { log } from "~/server/log";
import PgBoss from "pg-boss";
import { getSqlPool } from "~/server/db-sql";
import { backgroundFunctions } from "./catalog";
import { setDispatcher, setRunnerActive, splitWorkData, type Dispatcher } from "./client";
import { RetryableError, type BackgroundFunctionDefinition, type StepTools } from "./define";
import { allBackgroundFunctions } from "./functions";
import { sweepUnfinishedWork } from "./functions/sweep";
import { releaseWorkLease, takeWorkLease } from "./work-leases";
import { startProcessPresence } from "~/server/process-presence";
import { outsideLogContext, withFreshLogContext } from "~/server/log-context";
import { DEAD_LETTER_RETENTION_SECONDS } from "~/server/services/background/dead-letters";

const DEFAULT_TIMEOUT_SECONDS = 300;

// pg-boss queue names cannot hold '/', so "oracle/evaluate-submission" -> "oracle.evaluate-submission".
const queueName = (fnName: string) => fnName.replaceAll("/", ".");

const inlineSteps: StepTools = {
  async run(name, fn) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error && !(err instanceof RetryableError)) err.message = `step '${name}': ${err.message}`;
      throw err;
    }
  },
};

export interface PgBossRunner {
  boss: PgBoss;
  /** Names this process in work_leases (its presence connection, src/server/process-presence.ts). */
  instanceId: string;
  stop(): Promise<void>;
}

const globalForRunner = globalThis as unknown as { __agentMarketPgBoss?: Promise<PgBossRunner> };

function createSendOnlyDispatcher(boss: PgBoss, workerIds: Map<string, string[]>): Dispatcher {
  return {
    async send(name, payload, opts) {
      const queue = queueName(name);
      await boss.send(queue, payload as object, { singletonKey: opts.singletonKey, ...(opts.startAfter ? { startAfter: opts.startAfter } : {}) });
      // Wake this process's worker at once instead of waiting for its next poll.
      if (!opts.startAfter || opts.startAfter.getTime() <= Date.now()) for (const workerId of workerIds.get(queue) ?? []) boss.notifyWorker(workerId);
    },
  };
}

/**
 * Runs every background function on pg-boss in the app's own Postgres (schema `pgboss`).
 * With `workers: false` the process only enqueues (e.g. a second web instance).
 */
export function startPgBossRunner({ databaseUrl, workers = true, schedule = true }: { databaseUrl: string; workers?: boolean; schedule?: boolean }): Promise<PgBossRunner> {
  // Outside any request's log context, though a request may be what starts it (route-dispatcher.ts):
  // the runner's connections and timers outlive that request.
  globalForRunner.__agentMarketPgBoss ??= outsideLogContext(async () => {
    // This process's sign of life for work leases (and idempotency keys in flight): open before
    // any worker takes a lease.
    const { instanceId } = await startProcessPresence(databaseUrl);
    // Work that used all its attempts stays in pgboss.job as `failed` (a dead letter an admin can
    // requeue) for DEAD_LETTER_RETENTION_SECONDS, then pg-boss archives it.
    const boss = new PgBoss({ connectionString: databaseUrl, schema: "pgboss", max: 5, archiveFailedAfterSeconds: DEAD_LETTER_RETENTION_SECONDS });
    boss.on("error", (err) => log.error("pg-boss error", { error: String(err) }));
    await boss.start();
    const workerIds = new Map<string, string[]>();
    const runningHere = new Set<string>();
    for (const fn of allBackgroundFunctions) {
      const queue = queueName(backgroundFunctions[fn.key].name);
      // `short`: at most one copy of a piece of work waits, and nothing limits how many run, so
      // neither an orphan left active by a dead process nor a slow attempt can stop the queue
      // from being fetched (`stately` made a duplicate of an active job unfetchable, and the
      // fetch failed for the whole queue). Running twice is prevented by work leases instead.
      const options = { policy: "short", retryLimit: fn.maxAttempts - 1, retryDelay: 1, retryBackoff: true, expireInSeconds: (fn.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) + 30 } as const;
      await boss.createQueue(queue, { name: queue, ...options });
      await boss.updateQueue(queue, { name: queue, ...options });
      // pg-boss runs one job at a time per worker: several workers give a function concurrency.
      if (workers) {
        const ids: string[] = [];
        for (let i = 0; i < fn.concurrency; i++) ids.push(await work(boss, queue, fn, instanceId, runningHere));
        workerIds.set(queue, ids);
      }
    }
    setDispatcher(createSendOnlyDispatcher(boss, workerIds));
    setRunnerActive(workers);
    if (workers && schedule) {
      // Every function with a cron in the catalogue (the sweep, the reconciliation); pg-boss runs
      // each slot once across instances.
      for (const spec of Object.values(backgroundFunctions)) {
        if ("cron" in spec) await boss.schedule(queueName(spec.name), spec.cron, {});
      }
      // Crash recovery: anything left judging or unsent by a previous process is queued again,
      // and its lease is taken over from the dead process on the first attempt.
      await sweepUnfinishedWork({ staleAfterMs: 0 }).catch((err) => log.error("startup sweep failed", { error: String(err) }));
    }
    return {
      boss,
      instanceId,
      async stop() {
        setDispatcher(undefined);
        setRunnerActive(false);
        globalForRunner.__agentMarketPgBoss = undefined;
        // In-flight work (a payout waiting for its receipt, a sweep) may finish first; past 15 s it is
        // abandoned to the next start, whose sweep picks it up.
        await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
      },
    };
  });
  return globalForRunner.__agentMarketPgBoss;
}

async function work(boss: PgBoss, queue: string, fn: BackgroundFunctionDefinition, instanceId: string, runningHere: Set<string>): Promise<string> {
  const timeoutMs = (fn.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1_000;
  return boss.work<object>(queue, { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true }, async ([job]) => {
    if (!job) return;
    const attempt = job.retryCount + 1;
    // Each run logs under the request id it was queued with, its function, run and attempt.
    const { payload, context } = splitWorkData(job.data);
    return withFreshLogContext({ ...context, fn: fn.key, workId: job.id, attempt }, () => runAttempt({ fn, queue, job, payload, attempt, timeoutMs, instanceId, runningHere }));
  });
}

interface Attempt {
  fn: BackgroundFunctionDefinition;
  queue: string;
  job: PgBoss.JobWithMetadata<object>;
  payload: Record<string, unknown>;
  attempt: number;
  timeoutMs: number;
  instanceId: string;
  runningHere: Set<string>;
}

async function runAttempt({ fn, queue, job, payload, attempt, timeoutMs, instanceId, runningHere }: Attempt) {
  const leaseKey = `${queue}:${job.singletonKey ?? job.id}`;
  if (runningHere.has(leaseKey)) return { skipped: "already running in this process" };
  if (!(await takeWorkLease(getSqlPool(), leaseKey, instanceId))) return { skipped: "running in another live process" };
  runningHere.add(leaseKey);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`attempt took longer than ${timeoutMs / 1_000} s; abandoned so the work can be retried`)), timeoutMs);
    });
    return await Promise.race([fn.handler({ payload: payload as never, step: inlineSteps, attempt, maxAttempts: fn.maxAttempts }), timedOut]);
  } catch (err) {
    if (job.retryCount >= job.retryLimit) {
      // pg-boss marks it failed: a dead letter (services/background/dead-letters.ts).
      log.error("background function failed for good; it waits in GET /admin/dead-letters", { error: String(err) });
    } else {
      (err instanceof RetryableError ? log.info : log.error)("background function attempt failed", { error: String(err) });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    runningHere.delete(leaseKey);
    await releaseWorkLease(getSqlPool(), leaseKey, instanceId).catch((err) => log.warn("could not release a work lease", { leaseKey, error: String(err) }));
  }
}
