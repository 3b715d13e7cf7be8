import pg from "pg";
import type { Prisma } from "~/generated/prisma/client";
import { getEnv } from "~/env";

// A plain pg pool for the hottest read paths (job lists and job pages): the same SQL, built with
// Prisma.sql, without Prisma's per-query overhead (measured +10–30 % on the list and, with the
// job page as one statement, +60–70 % by id: docs/performance.md). Writes stay on Prisma, in
// transactions.

// timestamp(3) columns hold UTC (Prisma writes them so): read them as UTC, not local time.
pg.types.setTypeParser(1114, (value: string) => new Date(`${value.replace(" ", "T")}Z`));

const globalForRead = globalThis as unknown as { __agentMarketReadPool?: pg.Pool };

export function getReadPool(): pg.Pool {
  globalForRead.__agentMarketReadPool ??= new pg.Pool({ connectionString: getEnv().DATABASE_URL, max: Number(process.env.DATABASE_READ_POOL_SIZE ?? 10) });
  return globalForRead.__agentMarketReadPool;
}

export async function closeReadPool(): Promise<void> {
  const pool = globalForRead.__agentMarketReadPool;
  globalForRead.__agentMarketReadPool = undefined;
  await pool?.end();
}

/** A timestamp(3) rendered inside json_build_object: it has no zone, and the value is UTC. */
export function parseJsonTimestamp(value: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}

/** Runs a Prisma.sql query on the read pool. */
export async function readQuery<T extends pg.QueryResultRow>(query: Prisma.Sql): Promise<T[]> {
  const result = await getReadPool().query<T>(query.text, query.values as unknown[]);
  return result.rows;
}
