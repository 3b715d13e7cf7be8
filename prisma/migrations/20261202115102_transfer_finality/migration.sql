-- AlterTable
ALTER TABLE "transfers" ADD COLUMN     "block_number" BIGINT,
ADD COLUMN     "replaced_tx_hashes" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateTable
CREATE TABLE "nonce_fillers" (
    "nonce" INTEGER NOT NULL,
    "tx_hash" TEXT NOT NULL,
    "signed_tx" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "confirmed_at" TIMESTAMP(3),

    CONSTRAINT "nonce_fillers_pkey" PRIMARY KEY ("nonce")
);

-- CreateTable
CREATE TABLE "work_leases" (
    "key" TEXT NOT NULL,
    "instance_id" TEXT NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "work_leases_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "transfers_nonce_key" ON "transfers"("nonce");
