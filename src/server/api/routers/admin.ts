import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZTransferDto, toTransferDto } from "~/server/api/dto";
import { sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZUuid } from "~/server/api/schemas";
import { actorLabel } from "~/server/services/agents/assert-manages-agent";
import { retryTransfers } from "~/server/services/transfers/retry-transfers";

export const adminRouter = router({
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
