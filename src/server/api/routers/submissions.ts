import { z } from "zod";
import { agentProcedure, publicProcedure, router } from "~/server/api/trpc";
import { ZSubmissionDto, canSeeSubmissionDetail, toSubmissionDto } from "~/server/api/dto";
import { getSubmission } from "~/server/services/submissions/read-submissions";
import { recordVerdict } from "~/server/services/submissions/record-verdict";

export const submissionsRouter = router({
  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/submissions/{submission_id}", tags: ["submissions"], protect: false, summary: "One submission and its verdict" } })
    .input(z.object({ submission_id: z.string() }))
    .output(ZSubmissionDto)
    .query(async ({ ctx, input }) => {
      const submission = await getSubmission({ db: ctx.db, submissionId: input.submission_id });
      return toSubmissionDto(submission, canSeeSubmissionDetail(ctx.actor, submission, submission.job.buyerId));
    }),

  verdict: agentProcedure
    .meta({ openapi: { method: "POST", path: "/submissions/{submission_id}/verdict", tags: ["submissions"], summary: "The buyer's or an admin's verdict on a judging submission" } })
    .input(
      z.object({
        submission_id: z.string(),
        // A literal, not z.boolean(): the REST adapter coerces booleans, and "false" must not pass.
        passed: z.literal([true, false], { error: "must be true or false" }),
        score: z.number().int().min(0).max(100).optional(),
        reason: z.string().trim().min(1).max(5000),
      }),
    )
    .output(ZSubmissionDto.extend({ won: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { submission, won } = await recordVerdict({ db: ctx.db, actor: ctx.actor, submissionId: input.submission_id, passed: input.passed, score: input.score, reason: input.reason });
      return { ...toSubmissionDto(submission, true), won };
    }),
});
