import { checkDeliveryAgainstOutputSchema } from "./output-schema";
import type { OracleJobInput, OracleStep } from "./types";

export type DeterministicChecksInput = {
  job: OracleJobInput;
  content: string;
  maxContentBytes: number;
  /** Time limit of the JSON Schema check (it runs in a worker thread); see output-schema.ts. */
  schemaCheckTimeoutMs?: number;
  signal?: AbortSignal;
};

export type DeterministicChecksResult =
  /** Every step passed; the judge (or a human) decides next. */
  | { status: "passed"; steps: OracleStep[] }
  /** The delivery itself is wrong: the last step in `steps` is the one that failed. */
  | { status: "failed"; steps: OracleStep[]; failedStep: OracleStep }
  /**
   * The task, not the delivery, is broken (its output schema does not compile). Failing the
   * worker for the buyer's mistake would be unfair, so a human has to look at it.
   */
  | { status: "task_misconfigured"; steps: OracleStep[]; reason: string };

/**
 * Model-free checks run before any judging. They stop at the first failure so the reason a
 * worker sees names exactly one concrete problem. The JSON Schema check runs off this thread,
 * in a worker with a time limit (output-schema.ts): the schema is the buyer's, the content the
 * worker's, and neither may stall the process.
 */
export async function runDeterministicChecks(input: DeterministicChecksInput): Promise<DeterministicChecksResult> {
  const steps: OracleStep[] = [];

  const sizeStep = checkSize(input.content, input.maxContentBytes);
  steps.push(sizeStep);
  if (!sizeStep.passed) return { status: "failed", steps, failedStep: sizeStep };

  const typeStep = checkArtifactType(input.content, input.job.artifactType);
  steps.push(typeStep);
  if (!typeStep.passed) return { status: "failed", steps, failedStep: typeStep };

  if (input.job.outputSchema !== undefined && input.job.outputSchema !== null) {
    const schemaCheck = await checkDeliveryAgainstOutputSchema({
      schema: input.job.outputSchema,
      content: input.content,
      artifactType: input.job.artifactType,
      timeoutMs: input.schemaCheckTimeoutMs,
      signal: input.signal,
    });
    steps.push(schemaCheck.step);
    if (schemaCheck.taskMisconfigured) {
      return { status: "task_misconfigured", steps, reason: schemaCheck.step.detail };
    }
    if (!schemaCheck.step.passed) return { status: "failed", steps, failedStep: schemaCheck.step };
  }

  return { status: "passed", steps };
}

function checkSize(content: string, maxContentBytes: number): OracleStep {
  const byteLength = Buffer.byteLength(content, "utf8");
  if (byteLength === 0) {
    return { name: "size_check", passed: false, detail: "Content is empty" };
  }
  if (byteLength > maxContentBytes) {
    return {
      name: "size_check",
      passed: false,
      detail: `Content is ${byteLength} bytes, over the limit of ${maxContentBytes} bytes`,
    };
  }
  return { name: "size_check", passed: true, detail: `${byteLength} bytes (limit ${maxContentBytes})` };
}

function checkArtifactType(content: string, artifactType: string): OracleStep {
  const name = "artifact_type_check";
  switch (artifactType) {
    case "json": {
      const parsed = parseJson(content);
      return parsed.ok
        ? { name, passed: true, detail: "Content is valid JSON" }
        : { name, passed: false, detail: `Content is not valid JSON: ${parsed.error}` };
    }
    case "url": {
      const problem = describeUrlProblem(content);
      return problem === null
        ? { name, passed: true, detail: "Content is an http(s) URL" }
        : { name, passed: false, detail: problem };
    }
    default:
      // text, code, markdown, and any type we do not know yet: only emptiness is decidable
      // without a model, and whitespace alone is never a delivery.
      return content.trim().length > 0
        ? { name, passed: true, detail: `Content is non-empty ${artifactType}` }
        : { name, passed: false, detail: "Content contains only whitespace" };
  }
}

function describeUrlProblem(content: string): string | null {
  const candidate = content.trim();
  if (/\s/.test(candidate)) return "Content must be a single URL without whitespace";
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return "Content is not a valid URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `URL scheme must be http or https, got ${url.protocol.replace(/:$/, "")}`;
  }
  if (url.hostname.length === 0) return "URL has no host";
  return null;
}

function parseJson(content: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(content) };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
