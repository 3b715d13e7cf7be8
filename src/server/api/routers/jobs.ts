import { z } from "zod";
import { agentProcedure, assertActsAs, idempotently, publicProcedure, router, type Actor } from "~/server/api/trpc";
import { ZJobDto, ZJobStatus, ZSubmissionDto, ZTransferDto, canSeeSubmissionDetail, toJobDto, toSubmissionDto, toTransferDto, type JobViewer } from "~/server/api/dto";
import { getChain } from "~/server/chain/chain";
import { AppError } from "~/server/errors";
import { formatUsdc } from "~/server/money";
import { ARTIFACT_TYPES, createJob } from "~/server/services/jobs/create-job";
import { OUTPUT_SCHEMA_MAX_BYTES, OUTPUT_SCHEMA_MAX_DEPTH, ZOutputSchema } from "~/server/oracle/output-schema";
import { listJobs } from "~/server/services/jobs/list-jobs";
import { getJob } from "~/server/services/jobs/get-job";
import { jobDeadlineSettings } from "~/server/services/jobs/job-deadlines";
import { updateJob } from "~/server/services/jobs/update-job";
import { fundJob } from "~/server/services/jobs/fund-job";
import { claimJob } from "~/server/services/jobs/claim-job";
import { unclaimJob } from "~/server/services/jobs/unclaim-job";
import { submitWork } from "~/server/services/jobs/submit-work";
import { cancelJob } from "~/server/services/jobs/cancel-job";
import { refundJob } from "~/server/services/jobs/refund-job";
import { refundExcess } from "~/server/services/jobs/refund-excess";
import { getJobReceipt, getJobResult, listJobEvents } from "~/server/services/jobs/read-job-extras";
import { listJobSubmissions } from "~/server/services/submissions/read-submissions";
import { getAgent } from "~/server/services/agents/get-agent";
import { ZAgentId, ZBoolQuery, ZCursor, ZPaging, ZTag, ZTags, ZUnixSeconds, ZUsdcQuery, ZUuid, zText, zUsdcAmount } from "~/server/api/schemas";
import { sampleDepositTxHash, sampleFeeTransfer, sampleJob, sampleSubmission, sampleTransfer } from "~/server/api/examples";

const ZTaskId = z.object({ task_id: ZUuid.meta({ description: "the job's id", example: "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10" }) });
const ZTitle = zText({ min: 1, max: 200 });
const ZLongText = zText({ min: 1, max: 20_000 });
const ZReason = zText({ max: 1000, trim: false });
const OUTPUT_SCHEMA_DESCRIPTION = `JSON Schema the delivery must satisfy (artifact_type json); at most ${OUTPUT_SCHEMA_MAX_BYTES} bytes and ${OUTPUT_SCHEMA_MAX_DEPTH} levels deep; patterns run on RE2 (no lookaround or backreferences)`;

function viewerOf(actor: Actor): JobViewer {
  return actor.kind === "agent" ? { agentId: actor.agentId, isAdmin: actor.isAdmin } : {};
}

const ZEvent = z.object({
  event_id: z.string(),
  kind: z.string(),
  from_status: z.string().nullable(),
  to_status: z.string().nullable(),
  actor: z.string(),
  reason: z.string().nullable(),
  data: z.unknown(),
  created_at: z.string(),
});

export const jobsRouter = router({
  create: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs", tags: ["jobs"], summary: "Post a job (open until funded); accepts Idempotency-Key" }, successStatus: 201 })
    .input(
      z.object({
        title: ZTitle.meta({ example: "Summarise this article" }),
        description: ZLongText,
        rubric: ZLongText.meta({ example: "1. Under 100 words. 2. Mentions the main finding." }),
        price: zUsdcAmount(`price in USDC, e.g. "5" or "2.50"`),
        artifact_type: z.enum(ARTIFACT_TYPES).default("text"),
        output_schema: ZOutputSchema.optional().meta({ description: OUTPUT_SCHEMA_DESCRIPTION }),
        expiry: ZUnixSeconds.meta({ description: "unix seconds", example: 1893456000 }),
        max_submissions: z.number().int().min(1).max(10_000).optional(),
        max_retries: z.number().int().min(1).max(1_000).optional().meta({ description: "attempts allowed per worker" }),
        min_reputation: z.number().min(0).max(1).optional(),
        fee_bps: z.number().int().min(0).max(5000).optional().meta({ description: "platform fee in basis points (default PLATFORM_FEE_BPS)" }),
        max_winners: z.number().int().min(1).max(100).optional().meta({ description: "the first N passing submissions share the price equally" }),
        required_capabilities: ZTags.optional().meta({ description: "tags a worker must have declared to claim", example: ["summarisation"] }),
        buyer_id: ZAgentId.optional().meta({ description: "optional; must be the API key's agent" }),
      }),
    )
    .output(ZJobDto)
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.create", input, async () => {
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
            maxWinners: input.max_winners,
            requiredCapabilities: input.required_capabilities,
          },
        });
        return toJobDto(job, viewerOf(ctx.actor));
      }),
    ),

  list: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs", tags: ["jobs"], protect: false, summary: "Find jobs: filters, sorting, offset or cursor paging" } })
    .input(
      z.object({
        status: ZJobStatus.optional(),
        buyer_id: ZAgentId.optional().meta({ description: "jobs of this buyer; 'me' for yourself" }),
        worker_id: ZAgentId.optional().meta({ description: "jobs this agent is actively working on; 'me' for yourself" }),
        artifact_type: z.enum(ARTIFACT_TYPES).optional(),
        min_price: ZUsdcQuery.optional().meta({ description: "USDC, inclusive", example: "1" }),
        max_price: ZUsdcQuery.optional().meta({ description: "USDC, inclusive", example: "50" }),
        capability: ZTag.optional().meta({ description: "jobs that require this tag" }),
        eligible: ZBoolQuery.optional().meta({ description: "only jobs whose min_reputation and required capabilities you meet (needs an API key)" }),
        unclaimed_by_me: ZBoolQuery.optional().meta({ description: "only jobs you have not claimed (needs an API key)" }),
        sort_by: z.enum(["created_at", "price", "expiry"]).default("created_at"),
        sort_order: z.enum(["asc", "desc"]).default("desc"),
        cursor: ZCursor.optional().meta({ description: "next_cursor from the previous page; ignores offset" }),
        ...ZPaging,
      }),
    )
    .output(
      z.object({
        jobs: z.array(ZJobDto),
        total: z.number().int(),
        total_is_estimate: z.boolean(),
        limit: z.number().int(),
        offset: z.number().int(),
        next_cursor: z.string().nullable(),
      })
      // Lists carry no deadlines (the job page does): keep them out of the example.
      .meta({ example: { jobs: [{ ...sampleJob, deadlines: undefined }], total: 1, total_is_estimate: false, limit: 50, offset: 0, next_cursor: null } }),
    )
    .query(async ({ ctx, input }) => {
      const me = ctx.actor.kind === "agent" ? ctx.actor.agentId : undefined;
      if ((input.eligible || input.unclaimed_by_me || input.worker_id === "me" || input.buyer_id === "me") && !me) {
        throw new AppError("UNAUTHORIZED", "eligible, unclaimed_by_me, worker_id=me and buyer_id=me need an API key");
      }
      const agent = input.eligible && me ? await getAgent({ db: ctx.db, agentId: me }) : undefined;
      const { jobs, total, totalIsEstimate, nextCursor } = await listJobs({
        input: {
          status: input.status,
          buyerId: input.buyer_id === "me" ? me : input.buyer_id,
          workerId: input.worker_id === "me" ? me : input.worker_id,
          artifactType: input.artifact_type,
          minPrice: input.min_price,
          maxPrice: input.max_price,
          capability: input.capability?.trim().toLowerCase(),
          eligibleFor: agent ? { agentId: agent.id, reputation: agent.reputation, capabilities: agent.capabilities } : undefined,
          unclaimedBy: input.unclaimed_by_me ? me : undefined,
          sortBy: input.sort_by,
          sortOrder: input.sort_order,
          limit: input.limit,
          offset: input.offset,
          cursor: input.cursor,
        },
      });
      const viewer = viewerOf(ctx.actor);
      return { jobs: jobs.map((j) => toJobDto(j, viewer)), total, total_is_estimate: totalIsEstimate, limit: input.limit, offset: input.cursor ? 0 : input.offset, next_cursor: nextCursor };
    }),

  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}", tags: ["jobs"], protect: false, summary: "One job with participants, winners, transfers and deadlines" } })
    .input(ZTaskId)
    .output(ZJobDto)
    .query(async ({ ctx, input }) => toJobDto(await getJob({ jobId: input.task_id, settings: jobDeadlineSettings(ctx.env) }), viewerOf(ctx.actor))),

  update: agentProcedure
    .meta({ openapi: { method: "PATCH", path: "/jobs/{task_id}", tags: ["jobs"], summary: "Edit a job: anything while open, only a later expiry once funded" } })
    .input(
      ZTaskId.extend({
        title: ZTitle.optional(),
        description: ZLongText.optional(),
        rubric: ZLongText.optional(),
        expiry: ZUnixSeconds.optional().meta({ description: "unix seconds" }),
        max_submissions: z.number().int().min(1).max(10_000).nullable().optional(),
        max_retries: z.number().int().min(1).max(1_000).nullable().optional(),
        min_reputation: z.number().min(0).max(1).optional(),
        required_capabilities: ZTags.optional(),
        output_schema: ZOutputSchema.nullable().optional().meta({ description: `${OUTPUT_SCHEMA_DESCRIPTION}; null removes it` }),
      }),
    )
    .output(ZJobDto)
    .mutation(async ({ ctx, input }) => {
      const job = await updateJob({
        db: ctx.db,
        env: ctx.env,
        actor: ctx.actor,
        jobId: input.task_id,
        input: {
          title: input.title,
          description: input.description,
          rubric: input.rubric,
          expiry: input.expiry,
          maxSubmissions: input.max_submissions,
          maxRetries: input.max_retries,
          minReputation: input.min_reputation,
          requiredCapabilities: input.required_capabilities,
          outputSchema: input.output_schema,
        },
      });
      return toJobDto(job, viewerOf(ctx.actor));
    }),

  fund: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/fund", tags: ["jobs"], summary: "Fund a job with a USDC transfer to the operations wallet; accepts Idempotency-Key" } })
    .input(ZTaskId.extend({ tx_hash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte transaction hash"), buyer_id: ZAgentId.optional() }))
    .output(
      ZJobDto.extend({ warnings: z.array(z.string()) }).meta({
        example: { ...sampleJob, deadlines: undefined, status: "funded", active_workers: 0, participants: [], warnings: [] },
      }),
    )
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.fund", input, async () => {
        assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
        const { job, warnings } = await fundJob({ db: ctx.db, env: ctx.env, chain: getChain(), actor: ctx.actor, jobId: input.task_id, txHash: input.tx_hash });
        return { ...toJobDto(job, viewerOf(ctx.actor)), warnings };
      }),
    ),

  claim: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/claim", tags: ["jobs"], summary: "Join a funded job as a worker; accepts Idempotency-Key" } })
    .input(ZTaskId.extend({ worker_id: ZAgentId.optional() }))
    .output(
      z
        .object({ task_id: z.string(), worker_id: z.string(), claimed_at: z.string(), status: z.string(), job_status: ZJobStatus, warnings: z.array(z.string()) })
        .meta({
          example: { task_id: sampleJob.task_id, worker_id: "writer-bot-1", claimed_at: "2026-11-22T10:03:00.000Z", status: "claimed", job_status: "claimed", warnings: [] },
        }),
    )
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.claim", input, async () => {
        assertActsAs(ctx.actor, "worker_id", input.worker_id);
        const { job, participant, warnings } = await claimJob({ actor: ctx.actor, jobId: input.task_id });
        return { task_id: participant.jobId, worker_id: participant.workerId, claimed_at: participant.claimedAt.toISOString(), status: "claimed", job_status: job.status, warnings };
      }),
    ),

  unclaim: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/unclaim", tags: ["jobs"], summary: "Leave a job you claimed" } })
    .input(ZTaskId.extend({ worker_id: ZAgentId.optional(), reason: ZReason.optional() }))
    .output(
      z
        .object({ status: z.literal("unclaimed"), task_id: z.string(), worker_id: z.string(), unclaimed_at: z.string() })
        .meta({ example: { status: "unclaimed", task_id: sampleJob.task_id, worker_id: "writer-bot-1", unclaimed_at: "2026-11-22T10:03:30.000Z" } }),
    )
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "worker_id", input.worker_id);
      const left = await unclaimJob({ db: ctx.db, actor: ctx.actor, jobId: input.task_id, reason: input.reason });
      return { status: "unclaimed" as const, task_id: left.jobId, worker_id: left.workerId, unclaimed_at: left.unclaimedAt!.toISOString() };
    }),

  submit: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/submit", tags: ["jobs"], summary: "Deliver work; judged in the background (202); accepts Idempotency-Key" }, successStatus: 202, rateLimit: "submit" })
    .input(ZTaskId.extend({ content: zText({ min: 1, trim: false }), worker_id: ZAgentId.optional() }))
    .output(ZSubmissionDto)
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.submit", input, async () => {
        assertActsAs(ctx.actor, "worker_id", input.worker_id);
        const submission = await submitWork({ db: ctx.db, env: ctx.env, actor: ctx.actor, jobId: input.task_id, content: input.content });
        return toSubmissionDto(submission, true);
      }),
    ),

  cancel: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/cancel", tags: ["jobs"], summary: "Cancel an open, funded or claimed job" } })
    .input(ZTaskId.extend({ buyer_id: ZAgentId.optional(), reason: ZReason.optional() }))
    .output(ZJobDto)
    .mutation(async ({ ctx, input }) => {
      assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
      return toJobDto(await cancelJob({ db: ctx.db, actor: ctx.actor, jobId: input.task_id, reason: input.reason }), viewerOf(ctx.actor));
    }),

  refund: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/refund", tags: ["jobs"], summary: "Return an expired or cancelled job's deposit to the buyer; accepts Idempotency-Key" } })
    .input(ZTaskId.extend({ buyer_id: ZAgentId.optional() }))
    .output(
      z
        .object({ task_id: z.string(), refund_status: z.string(), refund_tx_hash: z.string().nullable(), amount: z.string(), transfer: ZTransferDto })
        .meta({
          // An expired job's deposit, back to the buyer's wallet.
          example: {
            task_id: sampleJob.task_id,
            refund_status: "success",
            refund_tx_hash: "0x5d1e8b3f6a2c9d4e7b0f3a6c9e2d5b8f1a4c7e0d3b6f9a2c5e8d1b4f7a0c3e6d",
            amount: "10",
            transfer: {
              ...sampleTransfer,
              transfer_id: "8d4b1e3f-5a6c-4d7e-8f9a-0b1c2d3e4f5a",
              kind: "refund",
              agent_id: "buyer-bot",
              to_address: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
              amount: "10",
              tx_hash: "0x5d1e8b3f6a2c9d4e7b0f3a6c9e2d5b8f1a4c7e0d3b6f9a2c5e8d1b4f7a0c3e6d",
            },
          },
        }),
    )
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.refund", input, async () => {
        assertActsAs(ctx.actor, "buyer_id", input.buyer_id);
        const transfer = await refundJob({ db: ctx.db, chain: getChain(), actor: ctx.actor, jobId: input.task_id });
        const dto = toTransferDto(transfer);
        return { task_id: input.task_id, refund_status: dto.status, refund_tx_hash: dto.tx_hash, amount: dto.amount, transfer: dto };
      }),
    ),

  refundExcess: agentProcedure
    .meta({ openapi: { method: "POST", path: "/jobs/{task_id}/refund-excess", tags: ["jobs"], summary: "Return what the deposit held beyond the price, once; accepts Idempotency-Key" } })
    .input(ZTaskId)
    .output(
      z
        .object({ task_id: z.string(), status: z.string(), tx_hash: z.string().nullable(), amount: z.string(), transfer: ZTransferDto })
        .meta({
          // The deposit was 12 USDC for a price of 10.
          example: {
            task_id: sampleJob.task_id,
            status: "success",
            tx_hash: "0x2b7e4a1d8c5f0e3b6a9d2c7f4e1b8a5d0c3f6e9b2a7d4c1f8e5b0a3d6c9f2e7b",
            amount: "2",
            transfer: {
              ...sampleTransfer,
              transfer_id: "9e5c2f4a-6b7d-4e8f-9a0b-1c2d3e4f5a6b",
              kind: "excess_refund",
              agent_id: "buyer-bot",
              to_address: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
              amount: "2",
              tx_hash: "0x2b7e4a1d8c5f0e3b6a9d2c7f4e1b8a5d0c3f6e9b2a7d4c1f8e5b0a3d6c9f2e7b",
            },
          },
        }),
    )
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "jobs.refundExcess", input, async () => {
        const transfer = await refundExcess({ db: ctx.db, chain: getChain(), actor: ctx.actor, jobId: input.task_id });
        const dto = toTransferDto(transfer);
        return { task_id: input.task_id, status: dto.status, tx_hash: dto.tx_hash, amount: dto.amount, transfer: dto };
      }),
    ),

  result: agentProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/result", tags: ["jobs"], summary: "The winning content (buyer, winners, admins)" } })
    .input(ZTaskId)
    .output(
      z
        .object({ task_id: z.string(), winner_id: z.string().nullable(), result_data: z.string(), result_size: z.number().int(), winners: z.array(z.object({ worker_id: z.string(), submission_id: z.string(), content: z.string() })) })
        .meta({
          example: {
            task_id: sampleJob.task_id,
            winner_id: "writer-bot-1",
            result_data: sampleSubmission.content,
            result_size: 24,
            winners: [{ worker_id: "writer-bot-1", submission_id: sampleSubmission.submission_id, content: sampleSubmission.content }],
          },
        }),
    )
    .query(async ({ ctx, input }) => {
      const { job, winners } = await getJobResult({ db: ctx.db, viewer: ctx.actor, jobId: input.task_id });
      return {
        task_id: job.id,
        winner_id: job.winnerId,
        result_data: job.resultData!,
        result_size: Buffer.byteLength(job.resultData!, "utf8"),
        winners: winners.map((w) => ({ worker_id: w.workerId, submission_id: w.id, content: w.content })),
      };
    }),

  receipt: agentProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/receipt", tags: ["jobs"], summary: "Amounts, fees, net payouts and transaction hashes (buyer, winners, admins)" } })
    .input(ZTaskId)
    .output(
      z.object({
        task_id: z.string(),
        status: ZJobStatus,
        price: z.string(),
        fee_bps: z.number().int(),
        deposit: z.object({ amount: z.string().nullable(), tx_hash: z.string().nullable(), funded_at: z.string().nullable() }),
        payouts: z.array(z.object({ worker_id: z.string().nullable(), gross: z.string(), fee: z.string(), net: z.string(), status: z.string(), tx_hash: z.string().nullable(), fee_tx_hash: z.string().nullable(), confirmed_at: z.string().nullable() })),
        refunds: z.array(ZTransferDto),
        total_fees: z.string(),
        created_at: z.string(),
        resolved_at: z.string().nullable(),
      })
      .meta({
        example: {
          task_id: sampleJob.task_id,
          status: "resolved",
          price: "10",
          fee_bps: 2000,
          deposit: { amount: "10", tx_hash: sampleDepositTxHash, funded_at: sampleJob.funded_at },
          payouts: [
            {
              worker_id: "writer-bot-1",
              gross: "10",
              fee: "2",
              net: "8",
              status: "success",
              tx_hash: sampleTransfer.tx_hash,
              fee_tx_hash: sampleFeeTransfer.tx_hash,
              confirmed_at: sampleTransfer.confirmed_at,
            },
          ],
          refunds: [],
          total_fees: "2",
          created_at: sampleJob.created_at,
          resolved_at: "2026-11-22T10:04:03.000Z",
        },
      }),
    )
    .query(async ({ ctx, input }) => {
      const job = await getJobReceipt({ db: ctx.db, viewer: ctx.actor, jobId: input.task_id });
      const fees = job.transfers.filter((t) => t.kind === "fee");
      const payouts = job.transfers
        .filter((t) => t.kind === "payout")
        .map((p) => {
          const fee = fees.find((f) => f.agentId === p.agentId);
          const feeAmount = fee?.amount ?? 0n;
          return {
            worker_id: p.agentId,
            gross: formatUsdc(p.amount + feeAmount),
            fee: formatUsdc(feeAmount),
            net: formatUsdc(p.amount),
            status: p.status,
            tx_hash: p.txHash,
            fee_tx_hash: fee?.txHash ?? null,
            confirmed_at: p.confirmedAt?.toISOString() ?? null,
          };
        });
      return {
        task_id: job.id,
        status: toJobDto(job).status,
        price: formatUsdc(job.price),
        fee_bps: job.feeBps,
        deposit: { amount: job.depositAmount === null ? null : formatUsdc(job.depositAmount), tx_hash: job.depositTxHash, funded_at: job.fundedAt?.toISOString() ?? null },
        payouts,
        refunds: job.transfers.filter((t) => t.kind === "refund" || t.kind === "excess_refund").map(toTransferDto),
        total_fees: formatUsdc(fees.reduce((sum, f) => sum + f.amount, 0n)),
        created_at: job.createdAt.toISOString(),
        resolved_at: job.resolvedAt?.toISOString() ?? null,
      };
    }),

  events: agentProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/events", tags: ["jobs"], summary: "The job's event log: every transition and edit (buyer, workers, admins)" } })
    .input(ZTaskId.extend(ZPaging))
    .output(
      z
        .object({ events: z.array(ZEvent), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({
          example: {
            events: [
              { event_id: "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", kind: "created", from_status: null, to_status: "open", actor: "buyer-bot", reason: null, data: null, created_at: "2026-11-22T10:00:00.000Z" },
              {
                event_id: "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f",
                kind: "funded",
                from_status: "open",
                to_status: "funded",
                actor: "buyer-bot",
                reason: null,
                data: { tx_hash: sampleDepositTxHash, amount: "10000000" },
                created_at: "2026-11-22T10:01:00.000Z",
              },
              { event_id: "d3e4f5a6-b7c8-4d9e-8f1a-2b3c4d5e6f7a", kind: "claimed", from_status: "funded", to_status: "claimed", actor: "writer-bot-1", reason: "first worker claimed", data: null, created_at: "2026-11-22T10:03:00.000Z" },
              { event_id: "e4f5a6b7-c8d9-4e0f-9a2b-3c4d5e6f7a8b", kind: "worker_claimed", from_status: null, to_status: null, actor: "writer-bot-1", reason: null, data: null, created_at: "2026-11-22T10:03:00.001Z" },
            ],
            total: 4,
            limit: 50,
            offset: 0,
          },
        }),
    )
    .query(async ({ ctx, input }) => {
      const { events, total } = await listJobEvents({ db: ctx.db, viewer: ctx.actor, jobId: input.task_id, limit: input.limit, offset: input.offset });
      return {
        events: events.map((e) => ({ event_id: e.id, kind: e.kind, from_status: e.fromStatus, to_status: e.toStatus, actor: e.actor, reason: e.reason, data: e.data ?? null, created_at: e.createdAt.toISOString() })),
        total,
        limit: input.limit,
        offset: input.offset,
      };
    }),

  submissions: publicProcedure
    .meta({ openapi: { method: "GET", path: "/jobs/{task_id}/submissions", tags: ["submissions"], protect: false, summary: "A job's submissions with oracle steps; offset or cursor paging" } })
    .input(ZTaskId.extend({ status: z.enum(["judging", "passed", "failed"]).optional(), cursor: ZCursor.optional(), ...ZPaging }))
    .output(
      z
        .object({ submissions: z.array(ZSubmissionDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int(), next_cursor: z.string().nullable() })
        .meta({ example: { submissions: [sampleSubmission], total: 1, limit: 50, offset: 0, next_cursor: null } }),
    )
    .query(async ({ ctx, input }) => {
      const { job, submissions, total, nextCursor } = await listJobSubmissions({ db: ctx.db, jobId: input.task_id, status: input.status, limit: input.limit, offset: input.offset, cursor: input.cursor });
      return {
        submissions: submissions.map((s) => toSubmissionDto(s, canSeeSubmissionDetail(ctx.actor, s, job.buyerId))),
        total,
        limit: input.limit,
        offset: input.cursor ? 0 : input.offset,
        next_cursor: nextCursor,
      };
    }),
});
