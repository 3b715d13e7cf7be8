-- AlterTable
ALTER TABLE "agents" ADD COLUMN     "is_admin" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "wallet_verified_address" TEXT,
ADD COLUMN     "wallet_verified_at" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "wallet_challenges" (
    "nonce" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "wallet_address" TEXT NOT NULL,
    "chain_id" INTEGER NOT NULL,
    "message" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "used_at" TIMESTAMP(3),

    CONSTRAINT "wallet_challenges_pkey" PRIMARY KEY ("nonce")
);

-- CreateIndex
CREATE INDEX "wallet_challenges_agent_id_expires_at_idx" ON "wallet_challenges"("agent_id", "expires_at");

-- AddForeignKey
ALTER TABLE "wallet_challenges" ADD CONSTRAINT "wallet_challenges_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("agent_id") ON DELETE CASCADE ON UPDATE CASCADE;
