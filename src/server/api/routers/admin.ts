import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZTransferDto, toTransferDto } from "~/server/api/dto";
import { sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZPaging, ZUuid } from "~/server/api/schemas";
import { ZMoneyState, ZReconciliationReportDto, sampleReconciliationRun, ZReconciliationRunDto, toReconciliationReportDto, toReconciliationRunDto } from "~/server/api/dto-reconciliation";
import { listReconciliationRuns } from "~/server/services/reconciliation/list-reconciliation-runs";
import { reconcileBooks, reconciliationSettings } from "~/server/services/reconciliation/reconcile-books";
import { recordReconciliationRun } from "~/server/services/reconciliation/record-reconciliation-run";
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

  reconciliation: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/reconciliation",
        tags: ["admin"],
        summary: "Books against chain, now: every job's money state, the wallet's totals, every difference (admins)",
        description:
          "Reads the operations wallet's USDC Transfer logs from the chain (from RECONCILIATION_START_BLOCK to the latest block) and matches them with the recorded deposits and transfers. Not recorded; the scheduled check records its runs (GET /admin/reconciliation/runs).",
      },
    })
    .input(
      z.object({
        state: ZMoneyState.optional().meta({ description: "list only the jobs in this money state", example: "stuck" }),
        limit: ZPaging.limit,
        offset: ZPaging.offset,
      }),
    )
    .output(ZReconciliationReportDto)
    .query(async ({ ctx, input }) => {
      const report = await reconcileBooks({ db: ctx.db, chain: getChain(), settings: reconciliationSettings(ctx.env) });
      return toReconciliationReportDto(report, input);
    }),

  reconciliationRuns: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/reconciliation/runs", tags: ["admin"], summary: "Recorded reconciliation runs, newest first: the latest drives the console's drift banner (admins)" } })
    .input(z.object({ ...ZPaging }))
    .output(
      z
        .object({ runs: z.array(ZReconciliationRunDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({ example: { runs: [sampleReconciliationRun], total: 1, limit: 50, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const { runs, total } = await listReconciliationRuns({ db: ctx.db, limit: input.limit, offset: input.offset });
      return { runs: runs.map(toReconciliationRunDto), total, limit: input.limit, offset: input.offset };
    }),

  recordReconciliationRun: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/reconciliation/runs",
        tags: ["admin"],
        summary: "Run the scheduled reconciliation now: record the run and alert on new drift (admins)",
      },
      successStatus: 201,
    })
    .input(z.void())
    .output(ZReconciliationRunDto)
    .mutation(async ({ ctx }) => {
      const { run } = await recordReconciliationRun({ db: ctx.db, chain: getChain(), env: ctx.env, trigger: "admin" });
      return toReconciliationRunDto(run);
    }),
});
