import { z } from "zod";
import { publicProcedure, router } from "~/server/api/trpc";
import { getChain } from "~/server/chain/chain";
import { getDepositInfo } from "~/server/services/platform/deposit-info";
import { checkHealth } from "~/server/services/platform/check-health";
import { mintFromFaucet } from "~/server/services/platform/dev-faucet";

const ZCheck = z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() });

export const platformRouter = router({
  depositInfo: publicProcedure
    .meta({ openapi: { method: "GET", path: "/platform/deposit-info", tags: ["platform"], protect: false, summary: "Where and how to send USDC to fund a job" } })
    .input(z.void())
    .output(
      z.object({
        operations_wallet: z.string(),
        usdc_contract: z.string(),
        chain_id: z.number().int(),
        chain_name: z.string(),
        min_amount: z.string(),
        confirmations_required: z.number().int(),
        chain_connected: z.boolean(),
        rpc_url: z.string().optional(),
      }),
    )
    .query(({ ctx }) => getDepositInfo({ env: ctx.env, chain: getChain() })),

  health: publicProcedure
    .meta({ openapi: { method: "GET", path: "/health", tags: ["platform"], protect: false, summary: "Liveness and which parts are embedded" } })
    .input(z.void())
    .output(
      z.object({
        status: z.enum(["ok", "degraded"]),
        dev_mode: z.boolean(),
        embedded: z.object({ postgres: z.boolean(), chain: z.boolean(), oracle_manual: z.boolean() }),
        oracle_mode: z.enum(["llm", "manual"]),
        background_runner: z.enum(["inngest", "pg-boss"]),
        checks: z.object({ database: ZCheck, chain: ZCheck }),
      }),
    )
    .query(({ ctx }) => checkHealth({ db: ctx.db, env: ctx.env, chain: getChain() })),

  faucet: publicProcedure
    .meta({ openapi: { method: "POST", path: "/dev/faucet", tags: ["dev"], protect: false, summary: "Mint test USDC (embedded local chain only)" } })
    .input(z.object({ address: z.string(), amount: z.union([z.string(), z.number()]).default("100") }))
    .output(z.object({ tx_hash: z.string(), address: z.string(), amount: z.string() }))
    .mutation(({ ctx, input }) => mintFromFaucet({ env: ctx.env, address: input.address, amount: input.amount })),
});
