-- CreateIndex
CREATE INDEX "transfers_agent_id_kind_created_at_idx" ON "transfers"("agent_id", "kind", "created_at" DESC);
