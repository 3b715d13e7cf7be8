import { z } from "zod";
import { agentProcedure, assertActsAs, publicProcedure, router } from "~/server/api/trpc";
import { ZJobDto, ZJobStatus, ZSubmissionDto, canSeeSubmissionDetail, toJobDto, toSubmissionDto, toTransferDto, ZTransferDto } from "~/server/api/dto";
import { getChain } from "~/server/chain/chain";
import { ARTIFACT_TYPES, createJob } from "~/server/services/jobs/create-job";
import { listJobs } from "~/server/services/jobs/list-jobs";
import { getJob } from "~/server/services/jobs/get-job";
import { fundJob } from "~/server/services/jobs/fund-job";
import { claimJob } from "~/server/services/jobs/claim-job";
import { submitWork } from "~/server/services/jobs/submit-work";
import { cancelJob } from "~/server/services/jobs/cancel-job";
import { refundJob } from "~/server/services/jobs/refund-job";
import { listJobSubmissions } from "~/server/services/submissions/read-submissions";

const ZTaskId = z.object({ task_id: z.string().meta({ description: "the job's id" }) });
const ZPaging = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
};

export const jobsRouter = router({
  create: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs", tags: ["jobs"], summary: "Post a job (open until funded)" }, successStatus: 201 })
    .input(
      z.object({
        title: z.string().trim().min(1).max(200).meta({ example: "Summarise this article" }),
        description: z.string().trim().min(1).max(20_000),
        rubric: z.string().trim().min(1).max(20_000).meta({ example: "1. Under 100 words. 2. Mentions the main finding." }),
        price: z.union([z.string(), z.number().positive()], { error: (iss) => (iss.input === undefined ? "is required" : "must be a USDC amount such as \"5\" or \"2.50\"") }).meta({ description: "USDC, e.g. \"5\" or \"2.50\"", example: "5" }),
        artifact_type: z.enum(ARTIFACT_TYPES).default("text"),
        output_schema: z.record(z.string(), z.unknown()).optional().meta({ description: "JSON Schema the delivery must satisfy (artifact_type json)" }),
        expiry: z.number().int().positive().meta({ description: "unix seconds", example: 1893456000 }),
        max_submissions: z.number().int().min(1).max(10_000).optional(),
        max_retries: z.number().int().min(1).max(1_000).optional(),
        min_reputation: z.number().min(0).max(1).optional(),
        fee_bps: z.number().int().min(0).max(5000).optional(),
        buyer_id: z.string().optional().meta({ description: "optional; must be the API key's agent" }),
      }),
    )
    .output(ZJobDto)
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
      const job = await createJob({
        db: ctx.db,
        env: ctx.env,
        buyerId: ctx.actor.agentId,
        input: {
          title: input.title,
          description: input.description,
          rubric: input.rubric,
          price: input.price,
          artifactType: input.artifact_type,
          outputSchema: input.output_schema,
          expiry: input.expiry,
          maxSubmissions: input.max_submissions,
          maxRetries: input.max_retries,
          minReputation: input.min_reputation,
          feeBps: input.fee_bps,
        },
      });
      return toJobDto(job);
    }),

  list: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs", tags: ["jobs"], protect: false, summary: "List jobs, newest first" } })
    .input(z.object({ status: ZJobStatus.optional(), buyer_id: z.string().optional(), worker_id: z.string().optional(), ...ZPaging }))
    .output(z.object({ jobs: z.array(ZJobDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const { jobs, total } = await listJobs({ db: ctx.db, input: { status: input.status, buyerId: input.buyer_id, workerId: input.worker_id, limit: input.limit, offset: input.offset } });
      return { jobs: jobs.map(toJobDto), total, limit: input.limit, offset: input.offset };
    }),

  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}", tags: ["jobs"], protect: false, summary: "One job with participants and transfers" } })
    .input(ZTaskId)
    .output(ZJobDto)
    .query(async ({ ctx, input }) => toJobDto(await getJob({ db: ctx.db, jobId: input.task_id }))),

  fund: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/fund", tags: ["jobs"], summary: "Fund a job with a USDC transfer to the operations wallet" } })
    .input(ZTaskId.extend({ tx_hash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte transaction hash"), buyer_id: z.string().optional() }))
    .output(ZJobDto.extend({ warnings: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
      const { job, warnings } = await fundJob({ db: ctx.db, env: ctx.env, chain: getChain(), actor: ctx.actor, jobId: input.task_id, txHash: input.tx_hash });
      return { ...toJobDto(job), warnings };
    }),

  claim: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/claim", tags: ["jobs"], summary: "Join a funded job as a worker" } })
    .input(ZTaskId.extend({ worker_id: z.string().optional() }))
    .output(z.object({ task_id: z.string(), worker_id: z.string(), claimed_at: z.string(), status: z.string(), warnings: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "worker_id", input.worker_id);
      const { participant, warnings } = await claimJob({ db: ctx.db, actor: ctx.actor, jobId: input.task_id });
      return { task_id: participant.jobId, worker_id: participant.workerId, claimed_at: participant.claimedAt.toISOString(), status: "claimed", warnings };
    }),

  submit: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/submit", tags: ["jobs"], summary: "Deliver work; judged in the background (202)" }, successStatus: 202 })
    .input(ZTaskId.extend({ content: z.string().min(1), worker_id: z.string().optional() }))
    .output(ZSubmissionDto)
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "worker_id", input.worker_id);
      const submission = await submitWork({ db: ctx.db, env: ctx.env, actor: ctx.actor, jobId: input.task_id, content: input.content });
      return toSubmissionDto(submission, true);
    }),

  cancel: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/cancel", tags: ["jobs"], summary: "Cancel an open or funded job" } })
    .input(ZTaskId.extend({ buyer_id: z.string().optional() }))
    .output(ZJobDto)
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
      return toJobDto(await cancelJob({ db: ctx.db, actor: ctx.actor, jobId: input.task_id }));
    }),

  refund: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/refund", tags: ["jobs"], summary: "Return an expired or cancelled job's deposit to the buyer" } })
    .input(ZTaskId.extend({ buyer_id: z.string().optional() }))
    .output(z.object({ task_id: z.string(), refund_status: z.string(), refund_tx_hash: z.string().nullable(), amount: z.string(), transfer: ZTransferDto }))
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
      const transfer = await refundJob({ db: ctx.db, chain: getChain(), actor: ctx.actor, jobId: input.task_id });
      const dto = toTransferDto(transfer);
      return { task_id: input.task_id, refund_status: dto.status, refund_tx_hash: dto.tx_hash, amount: dto.amount, transfer: dto };
    }),

  submissions: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/submissions", tags: ["submissions"], protect: false, summary: "A job's submissions with oracle steps" } })
    .input(ZTaskId.extend(ZPaging))
    .output(z.object({ submissions: z.array(ZSubmissionDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const { job, submissions, total } = await listJobSubmissions({ db: ctx.db, jobId: input.task_id, limit: input.limit, offset: input.offset });
      return {
        submissions: submissions.map((s) => toSubmissionDto(s, canSeeSubmissionDetail(ctx.actor, s, job.buyerId))),
        total,
        limit: input.limit,
        offset: input.offset,
      };
    }),
});
