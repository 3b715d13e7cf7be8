// Writes prisma/migrations/<timestamp>_<name>/migration.sql for the difference between the
// existing migrations and prisma/schema.prisma (the offline stand-in for `prisma migrate dev --create-only`).
// Needs DATABASE_URL only for a server to replay the migrations on, in a temporary database.
import "dotenv/config";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import {
  MIGRATION_LOCK_CONTENT,
  diffSchemaToMigrations,
  findRepoRoot,
  migrationsDirectory,
} from "~/server/db/migrations";

const usage = "usage: npm run db:diff -- <migration_name>";

const rawName = process.argv[2];
if (!rawName) {
  console.error(usage);
  process.exit(1);
}
// Same shape as Prisma's own names: lower snake case, letters and digits only.
const migrationName = rawName
  .trim()
  .toLowerCase()
  .replace(/[^a-z0-9]+/g, "_")
  .replace(/^_+|_+$/g, "");
if (!migrationName) {
  console.error(`db:diff: "${rawName}" has no letters or digits to name a migration with. ${usage}`);
  process.exit(1);
}

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error("db:diff: DATABASE_URL is not set (export it or put it in .env); a scratch Postgres server is enough.");
  process.exit(1);
}

function utcTimestamp(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

try {
  const repoRoot = findRepoRoot();
  const migrationsDir = migrationsDirectory(repoRoot);
  const script = await diffSchemaToMigrations(databaseUrl);
  if (script === null) {
    console.log("db:diff: no changes; prisma/schema.prisma matches the migrations.");
  } else {
    const directory = path.join(migrationsDir, `${utcTimestamp(new Date())}_${migrationName}`);
    await fs.mkdir(directory, { recursive: true });
    await fs.writeFile(path.join(directory, "migration.sql"), script);
    console.log(`db:diff: wrote ${path.relative(repoRoot, path.join(directory, "migration.sql"))}`);
  }
  const lockFile = path.join(migrationsDir, "migration_lock.toml");
  if (!existsSync(lockFile)) {
    await fs.mkdir(migrationsDir, { recursive: true });
    await fs.writeFile(lockFile, MIGRATION_LOCK_CONTENT);
    console.log(`db:diff: wrote ${path.relative(repoRoot, lockFile)}`);
  }
} catch (error) {
  console.error("db:diff failed:", error instanceof Error ? error.message : error);
  process.exit(1);
}
