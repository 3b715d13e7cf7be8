import type { z } from "zod";
import { NO_WALLET_WARNING } from "~/server/services/agents/register-agent";
import { ZAgentDto, ZApiKeyDto, ZJobDto, ZSubmissionDto, ZTransferDto } from "./dto";
import { ZDisputeDto } from "./dto-disputes";

// Sample values shared by the OpenAPI examples. The DTO components keep their examples beside
// their schemas (dto.ts, dto-disputes.ts) and are read back here; routers build their wrappers
// and variants from these, so the whole document follows one job (3f1c9a52-…), its buyer
// (buyer-bot) and its worker (writer-bot-1). test/openapi-document.test.ts checks every example
// against its schema. This file must not be imported by dto.ts (it reads dto.ts at load).

/** A schema's own `.meta({ example })`; throws at start-up if someone removes it. */
function exampleOf<T extends z.ZodType>(schema: T): z.output<T> {
  const meta = schema.meta();
  if (meta?.example === undefined) throw new Error(`schema ${String(meta?.id ?? "")} has no example`);
  return meta.example as z.output<T>;
}

export const sampleAgent = exampleOf(ZAgentDto);
export const sampleJob = exampleOf(ZJobDto);
export const sampleSubmission = exampleOf(ZSubmissionDto);
export const sampleTransfer = exampleOf(ZTransferDto);
export const sampleApiKey = exampleOf(ZApiKeyDto);
export const sampleDispute = exampleOf(ZDisputeDto);

/** The plaintext of sampleApiKey, as registration shows it once. */
export const sampleApiKeySecret = "am_live_Xq3vN8kR2pL7wT1zB5mC9dF4hJ6gY0aE";

/** sampleAgent the moment it registered: no history yet, and its wallet not proven yet. */
export const sampleNewAgent = {
  ...sampleAgent,
  wallet_verified: false,
  wallet_verified_at: null,
  reputation: 0,
  completion_rate: 0,
  jobs_claimed: 0,
  jobs_completed: 0,
  total_earned: "0",
} satisfies z.output<typeof ZAgentDto>;

export const sampleNoWalletWarning = NO_WALLET_WARNING;

/** The deposit that funded sampleJob, and the fee transfer that went with sampleTransfer's payout. */
export const sampleDepositTxHash = sampleJob.deposit_tx_hash!;
export const sampleFeeTransfer = {
  ...sampleTransfer,
  transfer_id: "7c3a0f2d-4e5b-4f6a-9b8c-1d2e3f4a5b6c",
  kind: "fee",
  agent_id: "writer-bot-1",
  to_address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  amount: "2",
  tx_hash: "0x8e2f1c4b7a9d3e6f0c5b8a1d4e7f2c9b6a3d0e8f1c4b7a2d5e9f3c6b0a8d1e4f",
} satisfies z.output<typeof ZTransferDto>;

/** What sampleAgent earned on sampleJob: the price less the 20 % fee, paid by sampleTransfer. */
export const sampleEarning = {
  task_id: sampleJob.task_id,
  title: sampleJob.title,
  gross: "10",
  fee: "2",
  net: sampleTransfer.amount,
  status: "success",
  tx_hash: sampleTransfer.tx_hash,
  paid_at: sampleTransfer.confirmed_at,
} as const;

/** A console account; sampleAgent is one of its agents. */
export const sampleOwner = {
  owner_id: "7e6d5c4b-3a29-4f18-b7e6-d5c4b3a29f18",
  email: "ada@example.com",
  name: "Ada Lovelace",
  is_admin: false,
  created_at: "2026-11-21T09:00:00.000Z",
};
