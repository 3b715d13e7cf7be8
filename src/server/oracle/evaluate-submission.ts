import { runDeterministicChecks } from "./deterministic-checks";
import { judgeWithLlm } from "./llm-judge";
import { OracleTimeoutError, type OracleConfig, type OracleJobInput, type OracleResult } from "./types";

export { OracleTimeoutError, OracleUnavailableError } from "./types";

export type EvaluateSubmissionInput = {
  job: OracleJobInput;
  content: string;
  config: OracleConfig;
  /** Cancels the evaluation; its abort reason is rethrown unchanged. */
  signal?: AbortSignal;
};

export const MANUAL_REVIEW_DETAIL = "Waiting for the buyer or an admin";

/**
 * Judges one delivery against its task.
 *
 * Order: deterministic checks (size, artifact type, JSON Schema) stop at the first failure; then
 * the LLM judge if `config.baseUrl` and `config.model` are both set, otherwise the submission
 * waits for manual review.
 *
 * Pass rule in LLM mode: outcome is "passed" iff the judge's verdict is "pass". The score is
 * reported but does not decide, because the verdict is what the judge was asked to decide
 * against the rubric; a second threshold would silently override it on rubrics where a modest
 * score is still acceptable.
 *
 * Throws:
 * - OracleTimeoutError when the whole evaluation exceeds `config.timeoutMs` (caller fails the
 *   submission with reason "Evaluation timed out").
 * - OracleUnavailableError when the judge model cannot give a usable answer (caller retries).
 * - the signal's abort reason when `signal` is aborted.
 */
export async function evaluateSubmission({ job, content, config, signal }: EvaluateSubmissionInput): Promise<OracleResult> {
  signal?.throwIfAborted();
  const startedAt = performance.now();

  const checks = await runDeterministicChecks({
    job,
    content,
    maxContentBytes: config.maxContentBytes,
    schemaCheckTimeoutMs: config.schemaCheckTimeoutMs,
    signal,
  });

  if (checks.status === "failed") {
    return {
      outcome: "failed",
      score: null,
      reason: `${checks.failedStep.name} failed: ${checks.failedStep.detail}`,
      steps: checks.steps,
      mode: judgeIsConfigured(config) ? "llm" : "manual",
    };
  }

  if (checks.status === "task_misconfigured") {
    return {
      outcome: "needs_review",
      score: null,
      reason: checks.reason,
      steps: [...checks.steps, { name: "manual_review", passed: false, detail: MANUAL_REVIEW_DETAIL }],
      mode: "manual",
    };
  }

  if (!judgeIsConfigured(config)) {
    return {
      outcome: "needs_review",
      score: null,
      reason: "No judge model is configured; the delivery awaits manual review",
      steps: [...checks.steps, { name: "manual_review", passed: false, detail: MANUAL_REVIEW_DETAIL }],
      mode: "manual",
    };
  }

  // The schema check has its own, shorter time limit; the judge gets whatever the checks left
  // of the whole budget.
  const remainingMs = Math.floor(config.timeoutMs - (performance.now() - startedAt));
  if (remainingMs <= 0) throw new OracleTimeoutError(config.timeoutMs);

  const judgement = await judgeWithLlm({
    job,
    content,
    baseUrl: config.baseUrl,
    model: config.model,
    apiKey: config.apiKey,
    timeoutMs: remainingMs,
    signal,
  }).catch((error: unknown) => {
    // Report the configured budget, not the remainder the judge happened to get.
    if (error instanceof OracleTimeoutError) throw new OracleTimeoutError(config.timeoutMs);
    throw error;
  });

  return {
    outcome: judgement.answer.verdict === "pass" ? "passed" : "failed",
    score: judgement.answer.score,
    reason: judgement.answer.reason,
    steps: [...checks.steps, ...judgement.steps],
    mode: "llm",
  };
}

function judgeIsConfigured(config: OracleConfig): config is OracleConfig & { baseUrl: string; model: string } {
  return Boolean(config.baseUrl && config.model);
}
