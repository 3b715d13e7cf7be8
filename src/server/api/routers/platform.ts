import { z } from "zod";
import { adminProcedure, publicProcedure, router } from "~/server/api/trpc";
import { formatUsdc } from "~/server/money";
import { zText } from "~/server/api/schemas";
import { getChain } from "~/server/chain/chain";
import { getDepositInfo } from "~/server/services/platform/deposit-info";
import { checkHealth } from "~/server/services/platform/check-health";
import { mintFromFaucet } from "~/server/services/platform/dev-faucet";
import { getPlatformStats } from "~/server/services/platform/platform-stats";
import { getSolvency } from "~/server/services/platform/solvency";

const ZCheck = z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional(), detail: z.string().optional() });

export const platformRouter = router({
  solvency: adminProcedure
    .meta({ openapi: { method: "GET", path: "/platform/solvency", tags: ["platform"], summary: "Can the operations wallet pay what it owes? Balance, liabilities, ratio (admins)" } })
    .input(z.void())
    .output(
      z
        .object({
          operations_wallet: z.string(),
          usdc_balance: z.string().meta({ description: "the operations wallet's USDC, read from the chain now" }),
          liabilities: z.string().meta({ description: "every deposit less what has left the wallet for its job (payouts, fees, refunds confirmed on chain)" }),
          jobs_holding_funds: z.number().int(),
          unsent_transfers: z.object({ count: z.number().int(), amount: z.string() }).meta({ description: "transfers recorded but not confirmed: pending, sent, failed or skipped" }),
          waiting_for_funds: z
            .object({ count: z.number().int(), amount: z.string() })
            .meta({ description: "transfers not signed because the wallet cannot cover them (USDC after what is in flight, or ETH for gas); they go out oldest first once it can" }),
          gas: z
            .object({ eth_balance_wei: z.string(), per_transfer_wei: z.string(), low: z.boolean() })
            .meta({ description: "the wallet's ETH, the most one transfer's gas costs at today's fees, and whether it pays fewer than 20 transfers" }),
          stuck_transfers: z
            .object({ count: z.number().int(), amount: z.string(), unmined: z.number().int(), awaiting_confirmations: z.number().int(), oldest_age_seconds: z.number().int().nullable() })
            .meta({ description: "transfers still pending or sent TRANSFER_STUCK_AFTER_SECONDS after they were recorded: unmined (in a mempool, or lost) or mined but not yet CONFIRMATIONS deep" }),
          solvency_ratio: z.number().nullable().meta({ description: "usdc_balance / liabilities; null when nothing is owed" }),
          solvent: z.boolean(),
          checked_at: z.string(),
        })
        .meta({
          example: {
            operations_wallet: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            usdc_balance: "1250.5",
            liabilities: "1000",
            jobs_holding_funds: 84,
            unsent_transfers: { count: 2, amount: "10" },
            waiting_for_funds: { count: 0, amount: "0" },
            gas: { eth_balance_wei: "4000000000000000000", per_transfer_wei: "200000000000000", low: false },
            stuck_transfers: { count: 0, amount: "0", unmined: 0, awaiting_confirmations: 0, oldest_age_seconds: null },
            solvency_ratio: 1.2505,
            solvent: true,
            checked_at: "2026-11-22T12:00:00.000Z",
          },
        }),
    )
    .query(async ({ ctx }) => {
      const s = await getSolvency({ db: ctx.db, env: ctx.env, chain: getChain() });
      return {
        operations_wallet: s.operationsWallet,
        usdc_balance: formatUsdc(s.usdcBalance),
        liabilities: formatUsdc(s.liabilities),
        jobs_holding_funds: s.jobsHoldingFunds,
        unsent_transfers: { count: s.unsentTransfers.count, amount: formatUsdc(s.unsentTransfers.amount) },
        waiting_for_funds: { count: s.waitingForFunds.count, amount: formatUsdc(s.waitingForFunds.amount) },
        gas: { eth_balance_wei: s.gas.ethBalance.toString(), per_transfer_wei: s.gas.perTransfer.toString(), low: s.gas.low },
        stuck_transfers: {
          count: s.stuckTransfers.count,
          amount: formatUsdc(s.stuckTransfers.amount),
          unmined: s.stuckTransfers.unmined,
          awaiting_confirmations: s.stuckTransfers.awaitingConfirmations,
          oldest_age_seconds: s.stuckTransfers.oldestAgeSeconds,
        },
        solvency_ratio: s.solvencyRatio,
        solvent: s.solvent,
        checked_at: s.checkedAt.toISOString(),
      };
    }),

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
      })
      // The embedded local chain (npm run dev); rpc_url is only given for that one.
      .meta({
        example: {
          operations_wallet: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
          usdc_contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          chain_id: 31337,
          chain_name: "Anvil (local)",
          min_amount: "1",
          confirmations_required: 12,
          chain_connected: true,
          rpc_url: "http://127.0.0.1:8545",
        },
      }),
    )
    .query(({ ctx }) => getDepositInfo({ env: ctx.env, chain: getChain() })),

  health: publicProcedure
    .meta({
      openapi: { method: "GET", path: "/health", tags: ["platform"], protect: false, summary: "Deep health: database, chain, oracle, background runner; 503 when the database is down" },
      statusFromOutput: (output: unknown) => ((output as { status?: string }).status === "down" ? 503 : undefined),
      outputStatuses: { 503: "The database is down: the same body, with status \"down\"" },
    })
    .input(z.void())
    .output(
      z.object({
        status: z.enum(["ok", "degraded", "down"]),
        dev_mode: z.boolean(),
        embedded: z.object({ postgres: z.boolean(), chain: z.boolean(), oracle_manual: z.boolean() }),
        oracle_mode: z.enum(["llm", "manual"]),
        background_runner: z.enum(["inngest", "pg-boss"]),
        checks: z.object({
          database: ZCheck,
          chain: ZCheck,
          oracle: ZCheck,
          background_runner: ZCheck.meta({ description: "pg-boss: how much waits, and how long ago the oldest ready job should have started; failing when over 60 s" }),
          transfers: ZCheck.meta({ description: "payouts, fees and refunds not final TRANSFER_STUCK_AFTER_SECONDS after they were recorded" }),
        }),
      })
      .meta({
        example: {
          status: "ok",
          dev_mode: false,
          embedded: { postgres: false, chain: false, oracle_manual: false },
          oracle_mode: "llm",
          background_runner: "pg-boss",
          checks: {
            database: { ok: true, latency_ms: 2 },
            chain: { ok: true, latency_ms: 41 },
            oracle: { ok: true, latency_ms: 230, detail: "model gpt-4.1-mini" },
            background_runner: { ok: true, latency_ms: 3, detail: "pg-boss: 0 waiting (oldest ready 0 s ago), 0 failed, workers running in this process" },
            transfers: { ok: true, latency_ms: 2, detail: "no transfer unfinished after 300 s" },
          },
        },
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
      })
      .meta({
        example: {
          jobs: { open: 2, funded: 3, claimed: 1, resolved: 12, expired: 1, cancelled: 1, refunded: 1, total: 21 },
          volume: "185",
          payouts: "96",
          fees: "24",
          refunds: "15",
          agents: { total: 9, active: 8 },
          median_time_to_resolution_seconds: 183,
        },
      }),
    )
    .query(({ ctx }) => getPlatformStats({ db: ctx.db })),

  faucet: publicProcedure
    .meta({ openapi: { method: "POST", path: "/dev/faucet", tags: ["dev"], protect: false, summary: "Mint test USDC (embedded local chain only)" }, rateLimit: "faucet" })
    .input(z.object({ address: zText({ max: 100 }), amount: z.union([zText({ max: 40 }), z.number()]).default("100") }))
    .output(
      z
        .object({ tx_hash: z.string(), address: z.string(), amount: z.string() })
        .meta({ example: { tx_hash: "0x4c9a2e7f1b8d3c6a0e5f9b2d7c4a1e8f3b6d0c9a2e5f8b1d4c7a0e3f6b9d2c5a", address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", amount: "100" } }),
    )
    .mutation(({ ctx, input }) => mintFromFaucet({ env: ctx.env, address: input.address, amount: input.amount })),
});
