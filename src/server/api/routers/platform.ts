import { z } from "zod";
import { publicProcedure, router } from "~/server/api/trpc";
import { getChain } from "~/server/chain/chain";
import { getDepositInfo } from "~/server/services/platform/deposit-info";
import { checkHealth } from "~/server/services/platform/check-health";
import { mintFromFaucet } from "~/server/services/platform/dev-faucet";
import { getPlatformStats } from "~/server/services/platform/platform-stats";

const ZCheck = z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional(), detail: z.string().optional() });

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
    .meta({
      openapi: { method: "GET", path: "/health", tags: ["platform"], protect: false, summary: "Deep health: database, chain, oracle, background runner; 503 when the database is down" },
      statusFromOutput: (output: unknown) => ((output as { status?: string }).status === "down" ? 503 : undefined),
    })
    .input(z.void())
    .output(
      z.object({
        status: z.enum(["ok", "degraded", "down"]),
        dev_mode: z.boolean(),
        embedded: z.object({ postgres: z.boolean(), chain: z.boolean(), oracle_manual: z.boolean() }),
        oracle_mode: z.enum(["llm", "manual"]),
        background_runner: z.enum(["inngest", "pg-boss"]),
        checks: z.object({ database: ZCheck, chain: ZCheck, oracle: ZCheck, background_runner: ZCheck }),
      }),
    )
    .query(({ ctx }) => checkHealth({ db: ctx.db, env: ctx.env, chain: getChain() })),

  stats: publicProcedure
    .meta({ openapi: { method: "GET", path: "/platform/stats", tags: ["platform"], protect: false, summary: "Job counts by status, volume, payouts, agents, median time to resolution" } })
    .input(z.void())
    .output(
      z.object({
        jobs: z.object({ open: z.number(), funded: z.number(), claimed: z.number(), resolved: z.number(), expired: z.number(), cancelled: z.number(), refunded: z.number(), total: z.number() }),
        volume: z.string(),
        payouts: z.string(),
        fees: z.string(),
        refunds: z.string(),
        agents: z.object({ total: z.number(), active: z.number() }),
        median_time_to_resolution_seconds: z.number().nullable(),
      }),
    )
    .query(({ ctx }) => getPlatformStats({ db: ctx.db })),

  faucet: publicProcedure
    .meta({ openapi: { method: "POST", path: "/dev/faucet", tags: ["dev"], protect: false, summary: "Mint test USDC (embedded local chain only)" } })
    .input(z.object({ address: z.string(), amount: z.union([z.string(), z.number()]).default("100") }))
    .output(z.object({ tx_hash: z.string(), address: z.string(), amount: z.string() }))
    .mutation(({ ctx, input }) => mintFromFaucet({ env: ctx.env, address: input.address, amount: input.amount })),
});
