-- CreateEnum
CREATE TYPE "DisputeStatus" AS ENUM ('open', 'resolved');

-- CreateEnum
CREATE TYPE "DisputeResolution" AS ENUM ('uphold', 'overturn_to_worker', 'refund_buyer');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "JobStatus" ADD VALUE 'claimed';
ALTER TYPE "JobStatus" ADD VALUE 'refunded';

-- AlterEnum
ALTER TYPE "TransferKind" ADD VALUE 'excess_refund';

-- AlterTable
ALTER TABLE "agents" ADD COLUMN     "capabilities" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "deactivated_at" TIMESTAMP(3),
ADD COLUMN     "owner_id" UUID,
ADD COLUMN     "preferred_artifact_types" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "active_workers" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "excess_refunded_at" TIMESTAMP(3),
ADD COLUMN     "max_winners" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "required_capabilities" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "submission_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "submitted_workers" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "submissions" ADD COLUMN     "is_winner" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "owners" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "is_admin" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "owners_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_events" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "from_status" "JobStatus",
    "to_status" "JobStatus",
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "data" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "agent_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "response_status" INTEGER,
    "response_body" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("agent_id","key")
);

-- CreateTable
CREATE TABLE "disputes" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "filed_by" TEXT NOT NULL,
    "submission_id" UUID,
    "reason" TEXT NOT NULL,
    "status" "DisputeStatus" NOT NULL DEFAULT 'open',
    "resolution" "DisputeResolution",
    "resolution_note" TEXT,
    "resolved_by" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMP(3),

    CONSTRAINT "disputes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "owners_email_key" ON "owners"("email");

-- CreateIndex
CREATE INDEX "job_events_task_id_created_at_idx" ON "job_events"("task_id", "created_at");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- CreateIndex
CREATE INDEX "disputes_task_id_idx" ON "disputes"("task_id");

-- CreateIndex
CREATE INDEX "disputes_status_created_at_idx" ON "disputes"("status", "created_at");

-- CreateIndex
CREATE INDEX "agents_reputation_created_at_idx" ON "agents"("reputation" DESC, "created_at");

-- CreateIndex
CREATE INDEX "agents_owner_id_idx" ON "agents"("owner_id");

-- CreateIndex
CREATE INDEX "agents_capabilities_idx" ON "agents" USING GIN ("capabilities");

-- CreateIndex
CREATE INDEX "jobs_status_price_idx" ON "jobs"("status", "price");

-- CreateIndex
CREATE INDEX "jobs_artifact_type_status_idx" ON "jobs"("artifact_type", "status");

-- CreateIndex
CREATE INDEX "jobs_required_capabilities_idx" ON "jobs" USING GIN ("required_capabilities");

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "owners"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "jobs"("task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("agent_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "jobs"("task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_filed_by_fkey" FOREIGN KEY ("filed_by") REFERENCES "agents"("agent_id") ON DELETE RESTRICT ON UPDATE CASCADE;
