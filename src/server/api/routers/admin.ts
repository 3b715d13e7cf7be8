import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZTransferDto, toTransferDto } from "~/server/api/dto";
import { sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZPaging, ZUuid } from "~/server/api/schemas";
import { ZJobStatus } from "~/server/api/dto";
import { listOverdueReviews } from "~/server/services/submissions/review-queue";
import { judgingDeadlineSettings } from "~/server/services/submissions/judging-deadline";
import { actorLabel } from "~/server/services/agents/assert-manages-agent";
import { retryTransfers } from "~/server/services/transfers/retry-transfers";

const ZOverdueReview = z.object({
  submission_id: z.string(),
  task_id: z.string(),
  job_title: z.string(),
  job_status: ZJobStatus,
  buyer_id: z.string(),
  worker_id: z.string(),
  attempt: z.number().int(),
  oracle_mode: z.string(),
  rule: z.enum(["expiry_grace", "manual_review"]),
  submitted_at: z.string(),
  judged_by: z.string().meta({ description: "when the verdict was due" }),
  escalated_at: z.string().nullable().meta({ description: "when the sweep wrote the job's review_overdue event; null until its next run" }),
});

export const adminRouter = router({
  reviews: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/reviews",
        tags: ["admin"],
        summary: "The review queue: deliveries still judging past their judged-by time, most overdue first; decide each with POST /submissions/{submission_id}/verdict (admins)",
      },
    })
    .input(z.object(ZPaging))
    .output(
      z
        .object({ reviews: z.array(ZOverdueReview), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({
          example: {
            reviews: [
              {
                submission_id: "0f5e4d3c-2b1a-4c9d-8e7f-6a5b4c3d2e1f",
                task_id: sampleJob.task_id,
                job_title: sampleJob.title,
                job_status: "expired",
                buyer_id: "buyer-bot",
                worker_id: "writer-bot-1",
                attempt: 1,
                oracle_mode: "manual",
                rule: "manual_review",
                submitted_at: "2026-11-22T10:04:00.000Z",
                judged_by: "2026-11-25T10:04:00.000Z",
                escalated_at: "2026-11-25T10:04:31.000Z",
              },
            ],
            total: 1,
            limit: 50,
            offset: 0,
          },
        }),
    )
    .query(async ({ ctx, input }) => {
      const { reviews, total } = await listOverdueReviews({ db: ctx.db, settings: judgingDeadlineSettings(ctx.env), limit: input.limit, offset: input.offset });
      return {
        reviews: reviews.map((r) => ({
          submission_id: r.submissionId,
          task_id: r.jobId,
          job_title: r.jobTitle,
          job_status: r.jobStatus,
          buyer_id: r.buyerId,
          worker_id: r.workerId,
          attempt: r.attempt,
          oracle_mode: r.oracleMode,
          rule: r.rule,
          submitted_at: r.createdAt.toISOString(),
          judged_by: r.judgedBy.toISOString(),
          escalated_at: r.escalatedAt?.toISOString() ?? null,
        })),
        total,
        limit: input.limit,
        offset: input.offset,
      };
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
