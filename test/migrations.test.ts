import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { applyMigrations, findRepoRoot, migrationsDirectory } from "~/server/db/migrations";
import { startEmbeddedPostgres } from "~/server/dev/embedded-postgres";
import { createTestDatabase, type TestDatabase } from "./support/database";

const APP_TABLES = ["agents", "api_keys", "job_participants", "jobs", "submissions", "transfers"];

async function migrationNamesOnDisk(): Promise<string[]> {
  const entries = await fs.readdir(migrationsDirectory(), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

async function query<Row extends pg.QueryResultRow>(databaseUrl: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("applyMigrations", () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  it("gives a fresh database every table and one _prisma_migrations row per migration", async () => {
    const database = await createTestDatabase();
    databases.push(database);

    const tables = await query<{ tablename: string }>(
      database.databaseUrl,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    expect(tables.map((row) => row.tablename)).toEqual(expect.arrayContaining([...APP_TABLES, "_prisma_migrations"]));

    const recorded = await query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      database.databaseUrl,
      "SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name",
    );
    const onDisk = await migrationNamesOnDisk();
    expect(onDisk.length).toBeGreaterThan(0);
    expect(recorded.map((row) => row.migration_name)).toEqual(onDisk);
    for (const row of recorded) {
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
  });

  it("applies nothing the second time", async () => {
    const database = await createTestDatabase({ migrate: false });
    databases.push(database);

    const first = await applyMigrations(database.databaseUrl);
    expect(first.applied).toEqual(await migrationNamesOnDisk());
    const second = await applyMigrations(database.databaseUrl);
    expect(second.applied).toEqual([]);
  });

  it("lets two concurrent callers both succeed, applying each migration once", async () => {
    const database = await createTestDatabase({ migrate: false });
    databases.push(database);

    const results = await Promise.all([applyMigrations(database.databaseUrl), applyMigrations(database.databaseUrl)]);
    const onDisk = await migrationNamesOnDisk();
    expect(results.flatMap((result) => result.applied).sort()).toEqual(onDisk);

    const recorded = await query<{ migration_name: string }>(
      database.databaseUrl,
      "SELECT migration_name FROM _prisma_migrations",
    );
    expect(recorded).toHaveLength(onDisk.length);
  });
});

describe("startEmbeddedPostgres", () => {
  it("starts a cluster in a new directory under .data, answers a query, and stops", async () => {
    const dataRoot = path.join(findRepoRoot(), ".data");
    await fs.mkdir(dataRoot, { recursive: true });
    const scratch = await fs.mkdtemp(path.join(dataRoot, "embedded-pg-test-"));
    // mkdtemp makes the directory 0700; Postgres may run as another user and must get through it.
    await fs.chmod(scratch, 0o755);
    try {
      const cluster = await startEmbeddedPostgres({ dataDir: path.join(scratch, "pgdata") });
      try {
        const again = await startEmbeddedPostgres({ dataDir: path.join(scratch, "pgdata") });
        expect(again.databaseUrl).toBe(cluster.databaseUrl);

        const rows = await query<{ database: string; answer: number }>(
          cluster.databaseUrl,
          "SELECT current_database() AS database, 6 * 7 AS answer",
        );
        expect(rows).toEqual([{ database: "agent_market", answer: 42 }]);
      } finally {
        await cluster.stop();
      }
      await expect(query(cluster.databaseUrl, "SELECT 1")).rejects.toThrow();
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});
