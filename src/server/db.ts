import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient, type Prisma } from "~/generated/prisma/client";
import { getEnv } from "~/env";

export type Db = PrismaClient;
/** A client or an interactive transaction: services accept either. */
export type DbTx = Prisma.TransactionClient;

const globalForDb = globalThis as unknown as { __agentMarketDb?: PrismaClient };

export function createDb(databaseUrl: string, poolSize = getEnv().DATABASE_POOL_SIZE): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  // Writers queue on job row locks under load: wait for a connection rather than fail fast.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: 10_000, timeout: 20_000 } });
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
