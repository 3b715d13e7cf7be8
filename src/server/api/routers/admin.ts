import { z } from "zod";
import { adminProcedure, router } from "~/server/api/trpc";
import { ZApiKeyDto, ZTransferDto, toApiKeyDto, toTransferDto } from "~/server/api/dto";
import { sampleApiKey, sampleFeeTransfer, sampleJob, sampleTransfer } from "~/server/api/examples";
import { getChain } from "~/server/chain/chain";
import { ZPaging, ZUuid } from "~/server/api/schemas";
import { ATTENTION_KINDS, listTransfersNeedingAttention } from "~/server/services/transfers/transfers-needing-attention";
import { ZJobStatus } from "~/server/api/dto";
import { listOverdueReviews } from "~/server/services/submissions/review-queue";
import { judgingDeadlineSettings } from "~/server/services/submissions/judging-deadline";
import { ZMoneyState, ZReconciliationReportDto, sampleReconciliationRun, ZReconciliationRunDto, toReconciliationReportDto, toReconciliationRunDto } from "~/server/api/dto-reconciliation";
import { listReconciliationRuns } from "~/server/services/reconciliation/list-reconciliation-runs";
import { reconcileBooks, reconciliationSettings } from "~/server/services/reconciliation/reconcile-books";
import { recordReconciliationRun } from "~/server/services/reconciliation/record-reconciliation-run";
import { actorLabel } from "~/server/services/agents/assert-manages-agent";
import { setApiKeyRateLimits } from "~/server/services/agents/set-api-key-rate-limits";
import { retryTransfers } from "~/server/services/transfers/retry-transfers";
import { discardDeadLetter, listDeadLetters, requeueDeadLetter } from "~/server/services/background/dead-letters";
import { BACKGROUND_FUNCTION_KEYS, ZDeadLetterDto, sampleDeadLetter, toDeadLetterDto } from "~/server/api/dto-dead-letters";

const ZKeyLimit = z
  .number()
  .int()
  .min(1)
  .max(1_000_000_000)
  .nullable()
  .optional()
  .meta({ description: "calls per minute for this key; null: back to the default; left out: unchanged" });

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

const ZDeadLetterId = z.object({ dead_letter_id: ZUuid.meta({ description: "the dead letter's id (dead_letter_id in the list)", example: sampleDeadLetter.dead_letter_id }) });

export const adminRouter = router({
  deadLetters: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/dead-letters",
        tags: ["admin"],
        summary: "Background work that used all its attempts, the most recent first (admins)",
        description:
          "pg-boss jobs in state failed, kept 14 days. Requeue one with POST /admin/dead-letters/{dead_letter_id}/requeue once its cause is fixed. Under Inngest the list is empty and `note` says where Inngest keeps its failed runs.",
      },
    })
    .input(z.object({ function: z.enum(BACKGROUND_FUNCTION_KEYS).optional().meta({ description: "only this background function" }), ...ZPaging }))
    .output(
      z
        .object({
          runner: z.enum(["pg-boss", "inngest"]),
          dead_letters: z.array(ZDeadLetterDto),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
          note: z.string().nullable().meta({ description: "set when this runner keeps no dead letters here" }),
        })
        .meta({ example: { runner: "pg-boss", dead_letters: [sampleDeadLetter], total: 1, limit: 50, offset: 0, note: null } }),
    )
    .query(async ({ ctx, input }) => {
      const list = await listDeadLetters({ db: ctx.db, env: ctx.env, fn: input.function, limit: input.limit, offset: input.offset });
      return { runner: list.runner, dead_letters: list.deadLetters.map(toDeadLetterDto), total: list.total, limit: input.limit, offset: input.offset, note: list.note };
    }),

  requeueDeadLetter: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/dead-letters/{dead_letter_id}/requeue",
        tags: ["admin"],
        summary: "Run a dead letter again, with all its attempts (admins)",
        description:
          "The same job goes back to its queue, due now. Safe at any time: every background function is idempotent and work leases keep two copies from running at once. 409 DEAD_LETTER_NOT_FAILED when it is no longer failed (already requeued).",
      },
    })
    .input(ZDeadLetterId)
    .output(ZDeadLetterDto)
    .mutation(async ({ ctx, input }) => toDeadLetterDto(await requeueDeadLetter({ db: ctx.db, env: ctx.env, id: input.dead_letter_id }))),

  discardDeadLetter: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/dead-letters/{dead_letter_id}/discard",
        tags: ["admin"],
        summary: "Take a dead letter off the list without running it (admins)",
        description: "For work that was done another way or no longer matters: moved to pg-boss's archive (kept 7 days), no longer counted by /health.",
      },
    })
    .input(ZDeadLetterId)
    .output(ZDeadLetterDto)
    .mutation(async ({ ctx, input }) => toDeadLetterDto(await discardDeadLetter({ db: ctx.db, env: ctx.env, id: input.dead_letter_id }))),

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
