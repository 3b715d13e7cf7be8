import { getDb } from "~/server/db";
import { getEnv } from "~/env";
import { addLogContext } from "~/server/log-context";
import { defineBackgroundFunction, RetryableError } from "~/server/jobs/define";
import { evaluateSubmission, OracleTimeoutError, OracleUnavailableError } from "~/server/oracle/evaluate-submission";
import type { OracleResult } from "~/server/oracle/types";
import { applyVerdict, recordPendingReview } from "~/server/services/submissions/apply-oracle-result";
import { MAX_CONTENT_BYTES } from "~/server/services/jobs/submit-work";

export const TIMED_OUT_REASON = "Evaluation timed out";

export const evaluateSubmissionFunction = defineBackgroundFunction({
  key: "evaluateSubmission",
  maxAttempts: 3,
  concurrency: 4,
  // The evaluation keeps its own ORACLE_TIMEOUT_SECONDS budget (at most an hour); this only frees a hung worker.
  timeoutSeconds: 3_700,
  async handler({ payload, step, attempt, maxAttempts }) {
    const db = getDb();
    const env = getEnv();
    const submission = await step.run("load-submission", async () => {
      const row = await db.submission.findUnique({ where: { id: payload.submissionId }, include: { job: true } });
      if (row) addLogContext({ jobId: row.jobId });
      if (!row || row.status !== "judging") return null;
      return {
        content: row.content,
        job: { title: row.job.title, description: row.job.description, rubric: row.job.rubric, artifactType: row.job.artifactType, outputSchema: row.job.outputSchema ?? undefined },
      };
    });
    if (!submission) return { skipped: "not judging" };

    const result = await step.run("evaluate", async (): Promise<OracleResult> => {
      try {
        return await evaluateSubmission({
          job: submission.job,
          content: submission.content,
          config: {
            baseUrl: env.ORACLE_BASE_URL,
            model: env.ORACLE_MODEL,
            apiKey: env.ORACLE_API_KEY,
            timeoutMs: env.ORACLE_TIMEOUT_SECONDS * 1000,
            maxContentBytes: MAX_CONTENT_BYTES,
            schemaCheckTimeoutMs: env.SCHEMA_CHECK_TIMEOUT_MS,
          },
        });
      } catch (err) {
        if (err instanceof OracleTimeoutError) {
          return { outcome: "failed", score: null, reason: TIMED_OUT_REASON, mode: "llm", steps: [{ name: "llm_judge", passed: false, detail: TIMED_OUT_REASON }] };
        }
        if (err instanceof OracleUnavailableError) {
          if (attempt < maxAttempts) throw new RetryableError(err.message);
          return { outcome: "failed", score: null, reason: `Oracle unavailable: ${err.message}`, mode: "llm", steps: [{ name: "llm_judge", passed: false, detail: err.message }] };
        }
        throw err;
      }
    });

    return step.run("record-verdict", async () => {
      if (result.outcome === "needs_review") {
        await recordPendingReview({ db, submissionId: payload.submissionId, steps: result.steps });
        return { outcome: "needs_review" };
      }
      const outcome = await applyVerdict({
        db,
        submissionId: payload.submissionId,
        verdict: { passed: result.outcome === "passed", score: result.score, reason: result.reason, steps: result.steps, judgedBy: "oracle" },
      });
      return { outcome: result.outcome, applied: outcome.applied, won: outcome.won };
    });
  },
});
