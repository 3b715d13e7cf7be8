import type { Db } from "~/server/db";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import { isRunnerActive } from "~/server/jobs/client";

const CHECK_TIMEOUT_MS = 2_000;

interface Check {
  ok: boolean;
  latency_ms: number;
  error?: string;
  detail?: string;
}

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
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: (err as Error).message };
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
  if (env.inngestEnabled) return { ok: true, latency_ms: 0, detail: "inngest" };
  return timed(async () => {
    const [row] = await db.$queryRaw<{ waiting: bigint; failed: bigint }[]>`
      SELECT count(*) FILTER (WHERE state IN ('created', 'retry')) AS waiting, count(*) FILTER (WHERE state = 'failed') AS failed FROM pgboss.job`;
    const detail = `pg-boss: ${row?.waiting ?? 0} waiting, ${row?.failed ?? 0} failed${isRunnerActive() ? ", workers running in this process" : ""}`;
    return detail;
  });
}

/** Deep health (#54): every dependency with its latency; `down` (503) when the database is. */
export async function checkHealth({ db, env, chain }: { db: Db; env: Env; chain: ChainClient }) {
  const [database, chainCheck, oracle, runner] = await Promise.all([
    timed(async () => {
      await db.$queryRaw`SELECT 1`;
    }),
    timed(() => chain.isConnected()),
    checkOracle(env),
    checkRunner(db, env),
  ]);
  const status = !database.ok ? ("down" as const) : chainCheck.ok && oracle.ok && runner.ok ? ("ok" as const) : ("degraded" as const);
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
    checks: { database, chain: chainCheck, oracle, background_runner: runner },
  };
}
