// Applies prisma/migrations to $DATABASE_URL (the offline stand-in for `prisma migrate deploy`).
import "dotenv/config";
import { applyMigrations } from "~/server/db/migrations";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error("db:migrate: DATABASE_URL is not set (export it or put it in .env).");
  process.exit(1);
}

const startedAt = performance.now();
try {
  const { applied } = await applyMigrations(databaseUrl, {
    log: (message) => {
      if (process.env.DB_MIGRATE_VERBOSE) console.log(`  ${message}`);
    },
  });
  const elapsed = `${Math.round(performance.now() - startedAt)} ms`;
  if (applied.length === 0) {
    console.log(`db:migrate: already up to date (${elapsed}).`);
  } else {
    console.log(`db:migrate: applied ${applied.length} migration(s) in ${elapsed}:`);
    for (const name of applied) console.log(`  ${name}`);
  }
} catch (error) {
  console.error("db:migrate failed:", error instanceof Error ? error.message : error);
  process.exit(1);
}
