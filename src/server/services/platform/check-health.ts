import type { Db } from "~/server/db";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";

async function timed<T>(fn: () => Promise<T>): Promise<{ ok: boolean; latency_ms: number; error?: string }> {
  const started = performance.now();
  try {
    const ok = await fn();
    return { ok: ok !== false, latency_ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: (err as Error).message };
  }
}

export async function checkHealth({ db, env, chain }: { db: Db; env: Env; chain: ChainClient }) {
  const [database, chainCheck] = await Promise.all([timed(() => db.$queryRaw`SELECT 1`), timed(() => chain.isConnected())]);
  return {
    status: database.ok ? ("ok" as const) : ("degraded" as const),
    dev_mode: env.devMode,
    embedded: {
      postgres: env.EMBEDDED_PARTS.includes("postgres"),
      chain: env.EMBEDDED_PARTS.includes("chain"),
      oracle_manual: env.oracleMode === "manual",
    },
    oracle_mode: env.oracleMode,
    background_runner: env.inngestEnabled ? ("inngest" as const) : ("pg-boss" as const),
    checks: { database, chain: chainCheck },
  };
}
