import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import Ajv2020 from "ajv/dist/2020";
import type { OracleJobInput, OracleStep } from "./types";

export type DeterministicChecksInput = {
  job: OracleJobInput;
  content: string;
  maxContentBytes: number;
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

const MAX_SCHEMA_ERRORS_REPORTED = 10;

/**
 * Cheap, model-free checks run before any judging. They stop at the first failure so the
 * reason a worker sees names exactly one concrete problem.
 */
export function runDeterministicChecks(input: DeterministicChecksInput): DeterministicChecksResult {
  const steps: OracleStep[] = [];

  const sizeStep = checkSize(input.content, input.maxContentBytes);
  steps.push(sizeStep);
  if (!sizeStep.passed) return { status: "failed", steps, failedStep: sizeStep };

  const typeStep = checkArtifactType(input.content, input.job.artifactType);
  steps.push(typeStep);
  if (!typeStep.passed) return { status: "failed", steps, failedStep: typeStep };

  if (input.job.outputSchema !== undefined && input.job.outputSchema !== null) {
    const schemaCheck = checkJsonSchema(input.content, input.job.artifactType, input.job.outputSchema);
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

function checkJsonSchema(
  content: string,
  artifactType: string,
  outputSchema: unknown,
): { step: OracleStep; taskMisconfigured: boolean } {
  const name = "json_schema_check";

  let validate: ValidateFunction;
  try {
    validate = compileSchema(outputSchema);
  } catch (error) {
    return {
      step: {
        name,
        passed: false,
        detail: `The task's output schema is invalid: ${errorMessage(error)}`,
      },
      taskMisconfigured: true,
    };
  }

  // For JSON deliveries the schema describes the parsed document; for every other type the
  // delivery is a string, so that is the value the schema constrains (e.g. maxLength, pattern).
  let value: unknown = content;
  if (artifactType === "json") {
    const parsed = parseJson(content);
    if (!parsed.ok) {
      return { step: { name, passed: false, detail: `Content is not valid JSON: ${parsed.error}` }, taskMisconfigured: false };
    }
    value = parsed.value;
  }

  if (validate(value)) {
    return { step: { name, passed: true, detail: "Content matches the output schema" }, taskMisconfigured: false };
  }
  return {
    step: { name, passed: false, detail: `Content does not match the output schema: ${formatSchemaErrors(validate.errors ?? [])}` },
    taskMisconfigured: false,
  };
}

function compileSchema(outputSchema: unknown): ValidateFunction {
  if (typeof outputSchema !== "object" && typeof outputSchema !== "boolean") {
    throw new Error("schema must be an object or a boolean");
  }
  // Buyers paste schemas from anywhere; 2020-12 needs its own Ajv class, and strict mode would
  // reject harmless extras such as "example" or unknown formats (ajv-formats is not installed,
  // so "format" is not enforced).
  const declaredDraft =
    typeof outputSchema === "object" && outputSchema !== null ? (outputSchema as { $schema?: unknown }).$schema : undefined;
  const options = { allErrors: true, strict: false, logger: false } as const;
  const ajv =
    typeof declaredDraft === "string" && declaredDraft.includes("2020-12") ? new Ajv2020(options) : new Ajv(options);
  return ajv.compile(outputSchema as object | boolean);
}

function formatSchemaErrors(errors: ErrorObject[]): string {
  const described = errors.slice(0, MAX_SCHEMA_ERRORS_REPORTED).map(describeSchemaError);
  const omitted = errors.length - described.length;
  return described.join("; ") + (omitted > 0 ? `; and ${omitted} more` : "");
}

/** `required` and `additionalProperties` errors point at the parent; name the property itself. */
function describeSchemaError(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required" && typeof params.missingProperty === "string") {
    return `${joinPointer(error.instancePath, params.missingProperty)} is required`;
  }
  if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return `${joinPointer(error.instancePath, params.additionalProperty)} is not allowed`;
  }
  return `${error.instancePath === "" ? "/" : error.instancePath} ${error.message ?? "is invalid"}`;
}

function joinPointer(parentPointer: string, property: string): string {
  const escaped = property.replace(/~/g, "~0").replace(/\//g, "~1");
  return `${parentPointer}/${escaped}`;
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
