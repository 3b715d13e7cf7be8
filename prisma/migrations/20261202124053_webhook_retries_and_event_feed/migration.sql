-- CreateEnum
CREATE TYPE "WebhookStatus" AS ENUM ('active', 'disabled');

-- DropIndex
DROP INDEX "webhook_deliveries_status_updated_at_idx";

-- AlterTable
ALTER TABLE "job_events" ADD COLUMN     "feed_seq" BIGINT;

-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "locked_until" TIMESTAMP(3),
ADD COLUMN     "next_attempt_at" TIMESTAMP(3),
ADD COLUMN     "round_attempts" INTEGER NOT NULL DEFAULT 0,
ALTER COLUMN "job_event_id" DROP NOT NULL;

-- AlterTable
ALTER TABLE "webhooks" ADD COLUMN     "disabled_at" TIMESTAMP(3),
ADD COLUMN     "disabled_reason" TEXT,
ADD COLUMN     "failing_since" TIMESTAMP(3),
ADD COLUMN     "status" "WebhookStatus" NOT NULL DEFAULT 'active';

-- CreateTable
CREATE TABLE "webhook_delivery_attempts" (
    "id" UUID NOT NULL,
    "delivery_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "attempted_at" TIMESTAMP(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "response_excerpt" TEXT,
    "next_attempt_at" TIMESTAMP(3),

    CONSTRAINT "webhook_delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_delivery_attempts_delivery_id_attempt_idx" ON "webhook_delivery_attempts"("delivery_id", "attempt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "job_events_feed_seq_key" ON "job_events"("feed_seq");

-- CreateIndex
CREATE INDEX "job_events_task_id_feed_seq_idx" ON "job_events"("task_id", "feed_seq");

-- CreateIndex
CREATE INDEX "webhook_deliveries_status_next_attempt_at_idx" ON "webhook_deliveries"("status", "next_attempt_at");

-- AddForeignKey
ALTER TABLE "webhook_delivery_attempts" ADD CONSTRAINT "webhook_delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Deliveries still pending are due at once under the new schedule.
UPDATE "webhook_deliveries" SET "next_attempt_at" = CURRENT_TIMESTAMP WHERE "status" = 'pending';

-- Events already published to webhooks take their feed places in the order they were written
-- (the kinds of services/webhooks/events.ts), the rest are placed when they are published.
UPDATE "job_events" e SET "feed_seq" = ordered.n FROM (
  SELECT "id", row_number() OVER (ORDER BY "seq") AS n FROM "job_events"
  WHERE "webhooks_dispatched_at" IS NOT NULL
    AND "kind" IN ('funded', 'claimed', 'resolved', 'expired', 'cancelled', 'refunded', 'submission_judged', 'dispute_filed', 'dispute_resolved')
) ordered WHERE e."id" = ordered."id";
