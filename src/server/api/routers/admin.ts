import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZTransferDto, toTransferDto } from "~/server/api/dto";
import { sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZPaging, ZUuid } from "~/server/api/schemas";
import { ATTENTION_KINDS, listTransfersNeedingAttention } from "~/server/services/transfers/transfers-needing-attention";
import { actorLabel } from "~/server/services/agents/assert-manages-agent";
import { retryTransfers } from "~/server/services/transfers/retry-transfers";

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
});
