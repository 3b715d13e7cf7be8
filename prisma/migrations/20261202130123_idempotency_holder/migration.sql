-- AlterTable
ALTER TABLE "idempotency_keys" ADD COLUMN     "instance_id" TEXT;
