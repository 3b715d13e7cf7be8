import type { Db } from "~/server/db";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import { isRunnerActive } from "~/server/jobs/client";
import { describeStuckTransfers, findStuckTransfers } from "~/server/services/transfers/stuck-transfers";
import { isGasLow, LOW_GAS_TRANSFERS, readOperationsFunds } from "~/server/services/transfers/operations-funds";

const CHECK_TIMEOUT_MS = 2_000;
// Work ready to run that no worker has picked up for this long means the queue is not moving.
const RUNNER_BACKLOG_LIMIT_SECONDS = 60;

interface Check {
  ok: boolean;
  latency_ms: number;
  error?: string;
  detail?: string;
}

/** A check whose verdict is computed (not just "did it answer"): failing it reports `detail`. */
class CheckFailed extends Error {}

async function timed(fn: () => Promise<string | boolean | void>): Promise<Check> {
  const started = performance.now();
  try {
    const result = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)),
    ]);
    const latency = Math.round(performance.now() - started);
    if (result === false) return { ok: false, latency_ms: latency };
    return { ok: true, latency_ms: latency, ...(typeof result === "string" ? { detail: result } : {}) };
  } catch (err) {
    const latency = Math.round(performance.now() - started);
    if (err instanceof CheckFailed) return { ok: false, latency_ms: latency, detail: err.message };
    return { ok: false, latency_ms: latency, error: (err as Error).message };
  }
}

async function checkOracle(env: Env): Promise<Check> {
  if (env.oracleMode === "manual") return { ok: true, latency_ms: 0, detail: "no model configured: manual review" };
  return timed(async () => {
    const res = await fetch(`${env.ORACLE_BASE_URL!.replace(/\/$/, "")}/models`, {
      headers: env.ORACLE_API_KEY ? { Authorization: `Bearer ${env.ORACLE_API_KEY}` } : {},
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`GET /models answered ${res.status}`);
    return `model ${env.ORACLE_MODEL}`;
  });
}

async function checkRunner(db: Db, env: Env): Promise<Check> {
  if (env.inngestEnabled) return { ok: true, latency_ms: 0, detail: "inngest (its failed runs are in the Inngest dashboard, not counted here)" };
  return timed(async () => {
    // Ready to run (its retry delay over) but not picked up: the age of the oldest says whether
    // the queue moves at all, whatever the number waiting. Failed ones are the dead letters
    // (services/background/dead-letters.ts lists the same rows).
    const [row] = await db.$queryRaw<{ waiting: bigint; failed: bigint; oldest_seconds: number | null }[]>`
      SELECT count(*) FILTER (WHERE state IN ('created', 'retry')) AS waiting,
             count(*) FILTER (WHERE state = 'failed') AS failed,
             EXTRACT(EPOCH FROM now() - MIN(start_after) FILTER (WHERE state IN ('created', 'retry') AND start_after <= now()))::float8 AS oldest_seconds
      FROM pgboss.job`;
    const oldest = row?.oldest_seconds === null || row?.oldest_seconds === undefined ? 0 : Math.round(row.oldest_seconds);
    const deadLetters = Number(row?.failed ?? 0);
    const detail = `pg-boss: ${row?.waiting ?? 0} waiting (oldest ready ${oldest} s ago), ${deadLetters} dead letters${isRunnerActive() ? ", workers running in this process" : ""}`;
    const problems = [
      ...(oldest > RUNNER_BACKLOG_LIMIT_SECONDS ? [`nothing has been picked up for over ${RUNNER_BACKLOG_LIMIT_SECONDS} s`] : []),
      ...(deadLetters > env.HEALTH_DEAD_LETTER_THRESHOLD
        ? [`${deadLetters} dead letters, over HEALTH_DEAD_LETTER_THRESHOLD (${env.HEALTH_DEAD_LETTER_THRESHOLD}): requeue or discard them (GET /admin/dead-letters)`]
        : []),
    ];
    if (problems.length > 0) throw new CheckFailed(`${detail}: ${problems.join("; ")}`);
    return detail;
  });
}

async function checkTransfers(db: Db, env: Env, chain: ChainClient): Promise<Check> {
  return timed(async () => {
    const stuck = await findStuckTransfers({ db, stuckAfterSeconds: env.TRANSFER_STUCK_AFTER_SECONDS });
    const waiting = await db.transfer.count({ where: { status: "waiting_for_funds" } });
    const problems = [
      ...(stuck.count > env.HEALTH_STUCK_TRANSFER_THRESHOLD
        ? [`${describeStuckTransfers(stuck, env.TRANSFER_STUCK_AFTER_SECONDS)}${env.HEALTH_STUCK_TRANSFER_THRESHOLD > 0 ? `, over HEALTH_STUCK_TRANSFER_THRESHOLD (${env.HEALTH_STUCK_TRANSFER_THRESHOLD})` : ""}`]
        : []),
      ...(waiting > 0 ? [`${waiting} waiting for the operations wallet to be topped up`] : []),
    ];
    // Gas is read from the chain; if it does not answer, the chain check already says so.
    const funds = await readOperationsFunds({ tx: db, chain }).catch(() => null);
    if (funds && isGasLow(funds)) problems.push(`gas low: the operations wallet's ${funds.ethBalance} wei pay fewer than ${LOW_GAS_TRANSFERS} transfers at today's fees`);
    if (problems.length > 0) throw new CheckFailed(problems.join("; "));
    return describeStuckTransfers(stuck, env.TRANSFER_STUCK_AFTER_SECONDS);
  });
}

/** Deep health (#54): every dependency with its latency; `down` (503) when the database is. */
export async function checkHealth({ db, env, chain }: { db: Db; env: Env; chain: ChainClient }) {
  const [database, chainCheck, oracle, runner, transfers] = await Promise.all([
    timed(async () => {
      await db.$queryRaw`SELECT 1`;
    }),
    timed(() => chain.isConnected()),
    checkOracle(env),
    checkRunner(db, env),
    checkTransfers(db, env, chain),
  ]);
  const status = !database.ok ? ("down" as const) : chainCheck.ok && oracle.ok && runner.ok && transfers.ok ? ("ok" as const) : ("degraded" as const);
  return {
    status,
    dev_mode: env.devMode,
    embedded: {
      postgres: env.EMBEDDED_PARTS.includes("postgres"),
      chain: env.EMBEDDED_PARTS.includes("chain"),
      oracle_manual: env.oracleMode === "manual",
    },
    oracle_mode: env.oracleMode,
    background_runner: env.inngestEnabled ? ("inngest" as const) : ("pg-boss" as const),
    checks: { database, chain: chainCheck, oracle, background_runner: runner, transfers },
  };
}
