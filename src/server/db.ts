import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient, type Prisma } from "~/generated/prisma/client";
import { getEnv } from "~/env";
import { closeAfterCommit, openAfterCommit } from "./after-commit";

export type Db = PrismaClient;
/** A client or an interactive transaction: services accept either. */
export type DbTx = Prisma.TransactionClient;

const globalForDb = globalThis as unknown as { __agentMarketDb?: PrismaClient };

export function createDb(databaseUrl: string, poolSize = getEnv().DATABASE_POOL_SIZE): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  // Writers queue on job row locks under load: wait for a connection rather than fail fast.
  return withAfterCommit(new PrismaClient({ adapter, transactionOptions: { maxWait: 10_000, timeout: 20_000 } }));
}

/**
 * Interactive transactions run what was registered with afterCommit (src/server/after-commit.ts)
 * once they commit, before $transaction returns; batch transactions ($transaction([...])) have
 * no callback to register from and pass through.
 */
function withAfterCommit(client: PrismaClient): PrismaClient {
  const transaction = client.$transaction.bind(client) as (arg: unknown, options?: unknown) => Promise<unknown>;
  const wrapped = async (arg: unknown, options?: unknown) => {
    if (typeof arg !== "function") return transaction(arg, options);
    let txObject: object | undefined;
    let result: unknown;
    try {
      result = await transaction(async (tx: object) => {
        txObject = tx;
        openAfterCommit(tx);
        return (arg as (tx: object) => Promise<unknown>)(tx);
      }, options);
    } catch (err) {
      if (txObject) await closeAfterCommit(txObject).run(false);
      throw err;
    }
    if (txObject) await closeAfterCommit(txObject).run(true);
    return result;
  };
  Object.defineProperty(client, "$transaction", { value: wrapped, configurable: true, writable: true });
  return client;
}

/** The process-wide Prisma client (kept on globalThis: Next may evaluate modules twice). */
export function getDb(): PrismaClient {
  globalForDb.__agentMarketDb ??= createDb(getEnv().DATABASE_URL);
  return globalForDb.__agentMarketDb;
}

export async function closeDb(): Promise<void> {
  const db = globalForDb.__agentMarketDb;
  globalForDb.__agentMarketDb = undefined;
  await db?.$disconnect();
}
