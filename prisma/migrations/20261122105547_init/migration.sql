-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('open', 'funded', 'resolved', 'expired', 'cancelled');

-- CreateEnum
CREATE TYPE "SubmissionStatus" AS ENUM ('judging', 'passed', 'failed');

-- CreateEnum
CREATE TYPE "TransferKind" AS ENUM ('payout', 'fee', 'refund');

-- CreateEnum
CREATE TYPE "TransferStatus" AS ENUM ('pending', 'sent', 'success', 'failed', 'skipped');

-- CreateTable
CREATE TABLE "agents" (
    "agent_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "wallet_address" TEXT,
    "reputation" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "jobs_claimed" INTEGER NOT NULL DEFAULT 0,
    "jobs_completed" INTEGER NOT NULL DEFAULT 0,
    "total_earned" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("agent_id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "agent_id" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),
    "revoked_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "task_id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "rubric" TEXT NOT NULL,
    "artifact_type" TEXT NOT NULL DEFAULT 'text',
    "output_schema" JSONB,
    "price" BIGINT NOT NULL,
    "fee_bps" INTEGER NOT NULL DEFAULT 2000,
    "buyer_id" TEXT NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'open',
    "expiry" TIMESTAMP(3) NOT NULL,
    "max_submissions" INTEGER,
    "max_retries" INTEGER,
    "min_reputation" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "deposit_tx_hash" TEXT,
    "deposit_amount" BIGINT,
    "deposit_from" TEXT,
    "funded_at" TIMESTAMP(3),
    "winner_id" TEXT,
    "winning_submission_id" UUID,
    "result_data" TEXT,
    "resolved_at" TIMESTAMP(3),
    "cancelled_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("task_id")
);

-- CreateTable
CREATE TABLE "job_participants" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "worker_id" TEXT NOT NULL,
    "claimed_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "unclaimed_at" TIMESTAMP(3),

    CONSTRAINT "job_participants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "submissions" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "worker_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "content" TEXT NOT NULL,
    "status" "SubmissionStatus" NOT NULL DEFAULT 'judging',
    "oracle_mode" TEXT NOT NULL,
    "oracle_score" INTEGER,
    "oracle_reason" TEXT,
    "oracle_steps" JSONB NOT NULL DEFAULT '[]',
    "judged_by" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "judged_at" TIMESTAMP(3),

    CONSTRAINT "submissions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transfers" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "kind" "TransferKind" NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "agent_id" TEXT,
    "to_address" TEXT,
    "amount" BIGINT NOT NULL,
    "status" "TransferStatus" NOT NULL DEFAULT 'pending',
    "tx_hash" TEXT,
    "nonce" INTEGER,
    "signed_tx" TEXT,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "sent_at" TIMESTAMP(3),
    "confirmed_at" TIMESTAMP(3),

    CONSTRAINT "transfers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_agent_id_idx" ON "api_keys"("agent_id");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_deposit_tx_hash_key" ON "jobs"("deposit_tx_hash");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_winning_submission_id_key" ON "jobs"("winning_submission_id");

-- CreateIndex
CREATE INDEX "jobs_status_created_at_idx" ON "jobs"("status", "created_at" DESC);

-- CreateIndex
CREATE INDEX "jobs_buyer_id_created_at_idx" ON "jobs"("buyer_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "jobs_created_at_idx" ON "jobs"("created_at" DESC);

-- CreateIndex
CREATE INDEX "jobs_status_expiry_idx" ON "jobs"("status", "expiry");

-- CreateIndex
CREATE INDEX "job_participants_worker_id_claimed_at_idx" ON "job_participants"("worker_id", "claimed_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "job_participants_task_id_worker_id_key" ON "job_participants"("task_id", "worker_id");

-- CreateIndex
CREATE INDEX "submissions_task_id_created_at_idx" ON "submissions"("task_id", "created_at");

-- CreateIndex
CREATE INDEX "submissions_worker_id_created_at_idx" ON "submissions"("worker_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "submissions_status_idx" ON "submissions"("status");

-- CreateIndex
CREATE UNIQUE INDEX "submissions_task_id_worker_id_attempt_key" ON "submissions"("task_id", "worker_id", "attempt");

-- CreateIndex
CREATE UNIQUE INDEX "transfers_idempotency_key_key" ON "transfers"("idempotency_key");

-- CreateIndex
CREATE INDEX "transfers_task_id_idx" ON "transfers"("task_id");

-- CreateIndex
CREATE INDEX "transfers_status_idx" ON "transfers"("status");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("agent_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_buyer_id_fkey" FOREIGN KEY ("buyer_id") REFERENCES "agents"("agent_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_winner_id_fkey" FOREIGN KEY ("winner_id") REFERENCES "agents"("agent_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_participants" ADD CONSTRAINT "job_participants_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "jobs"("task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_participants" ADD CONSTRAINT "job_participants_worker_id_fkey" FOREIGN KEY ("worker_id") REFERENCES "agents"("agent_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "submissions" ADD CONSTRAINT "submissions_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "jobs"("task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "submissions" ADD CONSTRAINT "submissions_worker_id_fkey" FOREIGN KEY ("worker_id") REFERENCES "agents"("agent_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "jobs"("task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("agent_id") ON DELETE SET NULL ON UPDATE CASCADE;
