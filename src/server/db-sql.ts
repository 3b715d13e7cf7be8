import pg from "pg";
import type { Prisma } from "~/generated/prisma/client";
import { getEnv } from "~/env";
import { log } from "~/server/log";
import { outsideLogContext } from "~/server/log-context";
import { closeAfterCommit, openAfterCommit } from "./after-commit";

// A plain pg pool for the hottest paths: job lists and job pages (reads) and claims (a short
// write transaction). The same SQL, built with Prisma.sql, without Prisma's per-query work:
// measured +10–30 % on the list, +60–70 % by id with the job page as one statement, and about
// half the Node CPU per claim (docs/performance.md). Everything else stays on Prisma.

// timestamp(3) columns hold UTC (Prisma writes them so): read them as UTC, not local time.
pg.types.setTypeParser(1114, (value: string) => new Date(`${value.replace(" ", "T")}Z`));

export type SqlClient = Pick<pg.PoolClient, "query">;

const globalForSql = globalThis as unknown as { __agentMarketSqlPool?: pg.Pool };

export function getSqlPool(): pg.Pool {
  const env = getEnv();
  if (!globalForSql.__agentMarketSqlPool) {
    // The session time zone is UTC so that now() agrees with the UTC values Prisma writes.
    const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: env.DATABASE_SQL_POOL_SIZE, options: "-c TimeZone=UTC" });
    // An idle connection the server closes (a restart, a terminated backend) is dropped from the
    // pool and reported here; without a listener node-postgres would crash the process.
    pool.on("error", (err) => outsideLogContext(() => log.warn("idle database connection lost", { error: String(err) })));
    globalForSql.__agentMarketSqlPool = pool;
  }
  return globalForSql.__agentMarketSqlPool;
}

export async function closeSqlPool(): Promise<void> {
  const pool = globalForSql.__agentMarketSqlPool;
  globalForSql.__agentMarketSqlPool = undefined;
  await pool?.end();
}

/** A timestamp(3) rendered inside json_build_object: it has no zone, and the value is UTC. */
export function parseJsonTimestamp(value: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}

/** Runs one Prisma.sql statement on the pool (or on a transaction's client). */
export async function sqlQuery<T extends pg.QueryResultRow>(query: Prisma.Sql, client: SqlClient = getSqlPool()): Promise<T[]> {
  const result = await client.query<T>(query.text, query.values as unknown[]);
  return result.rows;
}

/**
 * Runs `work` in one transaction on a pooled connection: committed when it returns, rolled back
 * when it throws (the error is rethrown as is; toAppError maps deadlocks to a retryable 409).
 * What `work` registered with afterCommit runs after the commit, before this returns.
 */
export async function withSqlTransaction<T>(work: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await getSqlPool().connect();
  let broken: Error | undefined;
  let committed = false;
  try {
    await client.query("BEGIN");
    openAfterCommit(client);
    const result = await work(client);
    await client.query("COMMIT");
    committed = true;
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw err;
  } finally {
    const afterCommitWork = closeAfterCommit(client);
    // A connection that could not roll back is discarded, not handed to the next request.
    client.release(broken);
    await afterCommitWork.run(committed);
  }
}
