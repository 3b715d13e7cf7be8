import { z } from "zod";
import { agentProcedure, idempotently, publicProcedure, router } from "~/server/api/trpc";
import { ZSubmissionDto, canSeeSubmissionDetail, toSubmissionDto } from "~/server/api/dto";
import { getSubmission, listWorkerSubmissions } from "~/server/services/submissions/read-submissions";
import { recordVerdict } from "~/server/services/submissions/record-verdict";
import { ZAgentId, ZCursor, ZPaging, ZUuid, zText } from "~/server/api/schemas";
import { sampleSubmission } from "~/server/api/examples";

export const submissionsRouter = router({
  list: agentProcedure
    .meta({ openapi: { method: "GET", path: "/submissions", tags: ["submissions"], summary: "Submissions across jobs by one worker (worker_id=me for yours), newest first" } })
    .input(z.object({ worker_id: ZAgentId.meta({ example: "me" }), status: z.enum(["judging", "passed", "failed"]).optional(), cursor: ZCursor.optional(), ...ZPaging }))
    .output(
      z
        .object({ submissions: z.array(ZSubmissionDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int(), next_cursor: z.string().nullable() })
        .meta({ example: { submissions: [sampleSubmission], total: 1, limit: 50, offset: 0, next_cursor: null } }),
    )
    .query(async ({ ctx, input }) => {
      const workerId = input.worker_id === "me" ? ctx.actor.agentId : input.worker_id;
      const page = await listWorkerSubmissions({ db: ctx.db, workerId, status: input.status, limit: input.limit, offset: input.offset, cursor: input.cursor });
      return {
        // Others' content stays redacted (G16): only the worker, each job's buyer and admins see it.
        submissions: page.submissions.map((s) => toSubmissionDto(s, canSeeSubmissionDetail(ctx.actor, s, s.job.buyerId))),
        total: page.total,
        limit: input.limit,
        offset: input.cursor ? 0 : input.offset,
        next_cursor: page.nextCursor,
      };
    }),

  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/submissions/{submission_id}", tags: ["submissions"], protect: false, summary: "One submission and its verdict" } })
    .input(z.object({ submission_id: ZUuid }))
    .output(ZSubmissionDto)
    .query(async ({ ctx, input }) => {
      const submission = await getSubmission({ db: ctx.db, submissionId: input.submission_id });
      return toSubmissionDto(submission, canSeeSubmissionDetail(ctx.actor, submission, submission.job.buyerId));
    }),

  verdict: agentProcedure
    .meta({ openapi: { method: "POST", path: "/submissions/{submission_id}/verdict", tags: ["submissions"], summary: "The buyer's or an admin's verdict on a judging submission" } })
    .input(
      z.object({
        submission_id: ZUuid,
        // A literal, not z.boolean(): the REST adapter coerces booleans, and "false" must not pass.
        passed: z.literal([true, false], { error: "must be true or false" }),
        score: z.number().int().min(0).max(100).optional(),
        reason: zText({ min: 1, max: 5000 }),
      }),
    )
    .output(
      ZSubmissionDto.extend({ won: z.boolean() }).meta({
        // The buyer passes a submission that waited for manual review; it is the first to pass, so it wins.
        example: {
          ...sampleSubmission,
          oracle_mode: "manual",
          oracle_score: 90,
          oracle_reason: "Covers the main finding in 80 words",
          oracle_steps: [
            { name: "size_check", passed: true, detail: "412 bytes (limit 51200)" },
            { name: "artifact_type_check", passed: true, detail: "Content is non-empty text" },
            { name: "manual_review", passed: true, detail: "buyer:buyer-bot: Covers the main finding in 80 words", score: 90 },
          ],
          judged_by: "buyer:buyer-bot",
          judged_at: "2026-11-22T10:30:00.000Z",
          won: true,
        },
      }),
    )
    .mutation(({ ctx, input }) =>
      idempotently(ctx, "submissions.verdict", input, async () => {
        const { submission, won } = await recordVerdict({ db: ctx.db, actor: ctx.actor, submissionId: input.submission_id, passed: input.passed, score: input.score, reason: input.reason });
        return { ...toSubmissionDto(submission, true), won };
      }),
    ),
});
