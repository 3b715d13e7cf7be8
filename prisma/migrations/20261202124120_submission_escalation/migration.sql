-- AlterTable
ALTER TABLE "submissions" ADD COLUMN     "escalated_at" TIMESTAMP(3);
