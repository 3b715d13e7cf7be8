import { z } from "zod";
import { adminProcedure, agentProcedure, router } from "~/server/api/trpc";
import { ZJobStatus, ZTransferDto, toTransferDto } from "~/server/api/dto";
import { ZDisputeDto, ZDisputeResolution, ZDisputeStatus, toDisputeDto } from "~/server/api/dto-disputes";
import { ZAgentId, ZPaging, ZUuid, zText } from "~/server/api/schemas";
import { sampleDispute, sampleFeeTransfer, sampleTransfer } from "~/server/api/examples";
import { effectiveStatus } from "~/server/services/jobs/job-state";
import { fileDispute } from "~/server/services/disputes/file-dispute";
import { listDisputes, listJobDisputes } from "~/server/services/disputes/list-disputes";
import { resolveDispute } from "~/server/services/disputes/resolve-dispute";

const ZTaskId = z.object({ task_id: ZUuid.meta({ description: "the job's id", example: "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10" }) });

/** The admin named on the decision: an agent by id, a console owner as `owner:<id>`. */
function deciderOf(actor: { kind: string; agentId?: string; ownerId?: string }): string {
  return actor.agentId ?? `owner:${actor.ownerId}`;
}

export const disputesRouter = router({
  file: agentProcedure
    .meta({
      openapi: { method: "POST", path: "/jobs/{task_id}/dispute", tags: ["disputes"], summary: "Dispute how a job ended (its buyer, or a worker who submitted); within DISPUTE_WINDOW_HOURS of settlement" },
      successStatus: 201,
    })
    .input(
      ZTaskId.extend({
        reason: zText({ min: 1, max: 5000 }).meta({ example: "My summary meets every rubric item; the verdict was wrong" }),
        submission_id: ZUuid.optional().meta({ description: "the submission in question; a worker may only name their own" }),
      }),
    )
    .output(ZDisputeDto)
    .mutation(async ({ ctx, input }) => {
      const dispute = await fileDispute({
        db: ctx.db,
        actor: ctx.actor,
        jobId: input.task_id,
        reason: input.reason,
        submissionId: input.submission_id,
        windowHours: ctx.env.DISPUTE_WINDOW_HOURS,
      });
      return toDisputeDto(dispute);
    }),

  listForJob: agentProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/disputes", tags: ["disputes"], summary: "A job's disputes (buyer, its workers, admins)" } })
    .input(ZTaskId)
    .output(z.object({ disputes: z.array(ZDisputeDto) }).meta({ example: { disputes: [sampleDispute] } }))
    .query(async ({ ctx, input }) => {
      const disputes = await listJobDisputes({ db: ctx.db, viewer: ctx.actor, jobId: input.task_id });
      return { disputes: disputes.map(toDisputeDto) };
    }),

  list: adminProcedure
    .meta({ openapi: { method: "GET", path: "/disputes", tags: ["disputes"], summary: "Disputes across jobs, oldest first (admins)" } })
    .input(z.object({ status: ZDisputeStatus.optional().meta({ example: "open" }), ...ZPaging }))
    .output(
      z
        .object({ disputes: z.array(ZDisputeDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({ example: { disputes: [sampleDispute], total: 1, limit: 50, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const { disputes, total } = await listDisputes({ db: ctx.db, status: input.status, limit: input.limit, offset: input.offset });
      return { disputes: disputes.map(toDisputeDto), total, limit: input.limit, offset: input.offset };
    }),

  resolve: adminProcedure
    .meta({ openapi: { method: "POST", path: "/disputes/{dispute_id}/resolve", tags: ["disputes"], summary: "Decide a dispute: uphold, overturn_to_worker (pays a share) or refund_buyer (admins)" } })
    .input(
      z.object({
        dispute_id: ZUuid,
        resolution: ZDisputeResolution,
        worker_id: ZAgentId.optional().meta({ description: "overturn_to_worker: who is paid; default the filer if a worker, else the disputed submission's worker" }),
        note: zText({ min: 1, max: 5000 }).meta({ description: "why; kept on the dispute and in the job's event log" }),
      }),
    )
    .output(
      ZDisputeDto.extend({ job_status: ZJobStatus, transfers: z.array(ZTransferDto) }).meta({
        // Overturned: the worker is paid the price less the fee, as if the oracle had passed them.
        example: {
          ...sampleDispute,
          status: "resolved",
          resolution: "overturn_to_worker",
          resolution_note: "The summary is 84 words and states the main finding",
          resolved_by: "admin-bot",
          resolved_at: "2026-11-22T12:00:00.000Z",
          job_status: "resolved",
          transfers: [sampleTransfer, sampleFeeTransfer].map((t) => ({ ...t, created_at: "2026-11-22T12:00:00.000Z", confirmed_at: "2026-11-22T12:00:02.000Z" })),
        },
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { dispute, job, transfers } = await resolveDispute({
        db: ctx.db,
        actor: { id: deciderOf(ctx.actor) },
        disputeId: input.dispute_id,
        resolution: input.resolution,
        workerId: input.worker_id,
        note: input.note,
      });
      return { ...toDisputeDto(dispute), job_status: effectiveStatus(job), transfers: transfers.map(toTransferDto) };
    }),
});
