import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZApiKeyDto, ZTransferDto, toApiKeyDto, toTransferDto } from "~/server/api/dto";
import { sampleApiKey, sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZPaging, ZUuid } from "~/server/api/schemas";
import { ATTENTION_KINDS, listTransfersNeedingAttention } from "~/server/services/transfers/transfers-needing-attention";
import { actorLabel } from "~/server/services/agents/assert-manages-agent";
import { setApiKeyRateLimits } from "~/server/services/agents/set-api-key-rate-limits";
import { retryTransfers } from "~/server/services/transfers/retry-transfers";

const ZKeyLimit = z
  .number()
  .int()
  .min(1)
  .max(1_000_000_000)
  .nullable()
  .optional()
  .meta({ description: "calls per minute for this key; null: back to the default; left out: unchanged" });

export const adminRouter = router({
  transfers: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/transfers",
        tags: ["admin"],
        summary: "Transfers that have not moved: reverted, waiting for funds, skipped for want of a wallet, or stuck (admins)",
      },
    })
    .input(z.object({ attention: z.enum(ATTENTION_KINDS).optional().meta({ description: "only this kind; all four when left out" }), ...ZPaging }))
    .output(
      z
        .object({
          transfers: z.array(ZTransferDto.extend({ task_id: z.string(), attention: z.enum(ATTENTION_KINDS) })),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        })
        .meta({
          example: {
            transfers: [{ ...sampleTransfer, status: "waiting_for_funds", tx_hash: null, confirmed_at: null, error: "the operations wallet holds 3 USDC, 0 of it already in flight; this transfer needs 8", task_id: sampleJob.task_id, attention: "waiting_for_funds" }],
            total: 1,
            limit: 50,
            offset: 0,
          },
        }),
    )
    .query(async ({ ctx, input }) => {
      const { transfers, total } = await listTransfersNeedingAttention({
        db: ctx.db,
        kind: input.attention,
        stuckAfterSeconds: ctx.env.TRANSFER_STUCK_AFTER_SECONDS,
        limit: input.limit,
        offset: input.offset,
      });
      return { transfers: transfers.map((t) => ({ ...toTransferDto(t), task_id: t.jobId, attention: t.attention })), total, limit: input.limit, offset: input.offset };
    }),


  retryPayout: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/jobs/{task_id}/retry-payout",
        tags: ["admin"],
        summary: "Send a job's failed or wallet-less transfers again: payouts, fees and refunds (admins)",
      },
    })
    .input(z.object({ task_id: ZUuid.meta({ description: "the job's id", example: sampleJob.task_id }) }))
    .output(
      z
        .object({ task_id: z.string(), payout_status: z.string().nullable(), transfers: z.array(ZTransferDto) })
        .meta({ example: { task_id: sampleJob.task_id, payout_status: "success", transfers: [sampleTransfer, sampleFeeTransfer] } }),
    )
    .mutation(async ({ ctx, input }) => {
      const transfers = await retryTransfers({ db: ctx.db, chain: getChain(), actor: { id: actorLabel(ctx.actor) }, jobId: input.task_id });
      const payout = transfers.find((t) => t.kind === "payout");
      return { task_id: input.task_id, payout_status: payout?.status ?? null, transfers: transfers.map(toTransferDto) };
    }),

  setApiKeyRateLimits: adminProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/admin/api-keys/{key_id}",
        tags: ["admin"],
        summary: "Set one API key's own rate limits (admins)",
        description: "Reads, writes and submissions per minute for this key, instead of the defaults. The key's next request is counted against them.",
      },
    })
    .input(
      z.object({
        key_id: z.uuid().meta({ description: "the key's id (key_id in the key listing)", example: sampleApiKey.key_id }),
        reads_per_minute: ZKeyLimit,
        writes_per_minute: ZKeyLimit,
        submissions_per_minute: ZKeyLimit,
      }),
    )
    .output(ZApiKeyDto.extend({ agent_id: z.string() }).meta({ example: { ...sampleApiKey, agent_id: "writer-bot-1" } }))
    .mutation(async ({ ctx, input }) => {
      const key = await setApiKeyRateLimits({
        db: ctx.db,
        keyId: input.key_id,
        limits: { readsPerMinute: input.reads_per_minute, writesPerMinute: input.writes_per_minute, submissionsPerMinute: input.submissions_per_minute },
      });
      return { ...toApiKeyDto(key, ctx.env), agent_id: key.agentId };
    }),
});
