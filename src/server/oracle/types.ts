export type OracleStep = {
  name: string;
  passed: boolean;
  detail: string;
  score?: number;
  criterion?: string;
};

export type ArtifactType = "text" | "json" | "code" | "markdown" | "url";

export type OracleJobInput = {
  title: string;
  description: string;
  rubric: string;
  /** One of ArtifactType; kept as string because it comes straight from the database. */
  artifactType: string;
  /** JSON Schema the delivery must satisfy; only checked when present. */
  outputSchema?: unknown;
};

export type OracleConfig = {
  /** OpenAI-compatible base URL, including the `/v1` suffix. Without it (or a model) judging is manual. */
  baseUrl?: string;
  model?: string;
  apiKey?: string;
  /** Upper bound for one whole evaluation, judge call included. */
  timeoutMs: number;
  /** Largest accepted delivery, in UTF-8 bytes (50 * 1024 in production). */
  maxContentBytes: number;
  /** Time limit of the JSON Schema check (SCHEMA_CHECK_TIMEOUT_MS); its default when absent. */
  schemaCheckTimeoutMs?: number;
};

export type OracleResult = {
  outcome: "passed" | "failed" | "needs_review";
  /** 0–100 from the judge; null when no judge scored the delivery (manual mode, deterministic failure). */
  score: number | null;
  reason: string;
  steps: OracleStep[];
  mode: "llm" | "manual";
};

/**
 * The evaluation did not finish within `OracleConfig.timeoutMs`. The caller turns this into a
 * failed submission ("Evaluation timed out") rather than retrying, because a delivery that
 * makes the judge hang would otherwise be retried forever.
 */
export class OracleTimeoutError extends Error {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`Evaluation did not finish within ${timeoutMs} ms`);
    this.name = "OracleTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The judge model could not produce a usable verdict (HTTP error, network failure, malformed
 * answer). Says nothing about the delivery, so the caller retries later.
 */
export class OracleUnavailableError extends Error {
  /** HTTP status from the model endpoint, when there was one. */
  readonly httpStatus?: number;

  constructor(message: string, options: { cause?: unknown; httpStatus?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "OracleUnavailableError";
    this.httpStatus = options.httpStatus;
  }
}
