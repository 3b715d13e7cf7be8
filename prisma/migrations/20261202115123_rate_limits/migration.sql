-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "rate_limit_reads_per_minute" INTEGER,
ADD COLUMN     "rate_limit_submissions_per_minute" INTEGER,
ADD COLUMN     "rate_limit_writes_per_minute" INTEGER;

-- CreateTable (UNLOGGED by hand: rate-limit counters need no WAL (a crash empties the table, which resets budgets))
CREATE UNLOGGED TABLE "rate_limits" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("key")
);
