-- AlterEnum
ALTER TYPE "TransferStatus" ADD VALUE 'waiting_for_funds';

-- AlterTable
ALTER TABLE "transfers" ADD COLUMN     "auto_retries" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "next_retry_at" TIMESTAMP(3);
