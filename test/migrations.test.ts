import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { applyMigrations, findRepoRoot, migrationsDirectory } from "~/server/db/migrations";
import { embeddedPostgresDataDir, isTraversableByOthers, RELOCATED_ROOT, startEmbeddedPostgres } from "~/server/dev/embedded-postgres";
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
    // As root in a checkout others cannot enter (e.g. under /root), the cluster lives elsewhere.
    let relocatedTo: string | undefined;
    try {
      const cluster = await startEmbeddedPostgres({ dataDir: path.join(scratch, "pgdata") });
      if (cluster.dataDir !== path.join(scratch, "pgdata")) relocatedTo = path.dirname(cluster.dataDir);
      expect(cluster.dataDir).toBe(embeddedPostgresDataDir(path.join(scratch, "pgdata")));
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
      if (relocatedTo) await fs.rm(relocatedTo, { recursive: true, force: true });
    }
  });

  it("as root, places a cluster whose directory the postgres user cannot reach under /var/tmp/agent-market, one per directory", async () => {
    const closed = await fs.mkdtemp(path.join(os.tmpdir(), "closed-checkout-"));
    const other = await fs.mkdtemp(path.join(os.tmpdir(), "closed-checkout-"));
    try {
      expect((await fs.stat(closed)).mode & 0o777).toBe(0o700);
      const placed = embeddedPostgresDataDir(path.join(closed, ".data", "postgres"), { runsAsRoot: true });
      expect(path.dirname(path.dirname(placed))).toBe(RELOCATED_ROOT);
      expect(path.basename(placed)).toBe("postgres");
      expect(isTraversableByOthers(path.dirname(placed))).toBe(true);
      // Stable across restarts, distinct per checkout.
      expect(embeddedPostgresDataDir(path.join(closed, ".data", "postgres"), { runsAsRoot: true })).toBe(placed);
      expect(embeddedPostgresDataDir(path.join(other, ".data", "postgres"), { runsAsRoot: true })).not.toBe(placed);
      // Not root: Postgres runs as us and reaches it. Reachable: nothing to move.
      expect(embeddedPostgresDataDir(path.join(closed, ".data", "postgres"), { runsAsRoot: false })).toBe(path.join(closed, ".data", "postgres"));
      await fs.chmod(closed, 0o755);
      expect(embeddedPostgresDataDir(path.join(closed, ".data", "postgres"), { runsAsRoot: true })).toBe(path.join(closed, ".data", "postgres"));
    } finally {
      await fs.rm(closed, { recursive: true, force: true });
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});
