import { z } from "zod";
import { AppError } from "~/server/errors";
import { runSchemaTask, type SchemaErrorReport } from "./schema-check-pool";
import type { OracleStep } from "./types";

// A job's output_schema is the buyer's code running on the market's machine. This module is the
// one home of what such a schema may be (bounds, patterns, compiles) and of checking a delivery
// against it; job creation, job updates and the oracle all go through it.

export const OUTPUT_SCHEMA_MAX_BYTES = 16 * 1024;
/** Levels of JSON objects and arrays, the outermost object being level 1. */
export const OUTPUT_SCHEMA_MAX_DEPTH = 32;
/** Used when no limit is passed (SCHEMA_CHECK_TIMEOUT_MS has the same default). */
export const DEFAULT_SCHEMA_CHECK_TIMEOUT_MS = 3000;

const MAX_SCHEMA_ERRORS_REPORTED = 10;
const STEP_NAME = "json_schema_check";
const PATTERN_ENGINE_NOTE = "patterns run on RE2, which has no lookahead, lookbehind or backreferences";

export type OutputSchemaProblem = { message: string; path?: string };

/**
 * Size and nesting of a schema, checked without recursion so that any JSON value is safe to
 * pass. Runs where the schema enters (the input schemas of create and update, before anything
 * else touches it) and again before every compile.
 */
export function findOutputSchemaBoundsProblem(schema: unknown): OutputSchemaProblem | null {
  if (typeof schema === "boolean") return null;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    return { message: "must be a JSON Schema object" };
  }
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: schema, depth: 1, path: "" }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (depth > OUTPUT_SCHEMA_MAX_DEPTH) {
      return { message: `nests deeper than ${OUTPUT_SCHEMA_MAX_DEPTH} levels of objects and arrays (at ${shorten(path)})`, path };
    }
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as object);
    for (const [key, child] of entries) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, depth: depth + 1, path: `${path}/${escapePointer(key)}` });
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(schema), "utf8");
  if (bytes > OUTPUT_SCHEMA_MAX_BYTES) {
    return { message: `is ${bytes} bytes as JSON, over the limit of ${OUTPUT_SCHEMA_MAX_BYTES}` };
  }
  return null;
}

/** The request field: a JSON object within the bounds, refused with a 400 naming output_schema. */
export const ZOutputSchema = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  const problem = findOutputSchemaBoundsProblem(schema);
  if (problem) ctx.addIssue({ code: "custom", message: problem.message });
});

/**
 * Whether a buyer may attach this schema to a job: within the bounds, every pattern compiles on
 * RE2 (the engine deliveries are checked with), and the whole schema compiles in Ajv, within the
 * schema-check time limit. Throws a 400 (`VALIDATION_FAILED`, field `output_schema`) otherwise.
 */
export async function assertAcceptableOutputSchema(schema: unknown, { timeoutMs }: { timeoutMs: number }): Promise<void> {
  const bounds = findOutputSchemaBoundsProblem(schema);
  if (bounds) throw refusal(bounds.message, bounds.path ? { path: bounds.path } : {});

  const patterns = listPatterns(schema);
  const outcome = await runSchemaTask({ op: "accept", schema, patterns }, { timeoutMs });
  if (outcome.status === "timed_out") {
    throw refusal(`took longer than ${timeoutMs} ms to compile`);
  }
  if (outcome.status === "out_of_memory") {
    const path = outcome.pattern === undefined ? undefined : patterns.find((p) => p.pattern === outcome.pattern)?.path;
    throw refusal(
      path ? `the pattern at ${path} needs more memory than the pattern engine allows` : "needs more memory to compile than the schema checker allows",
      path ? { path } : {},
    );
  }
  const { refusedPatterns, compileError } = outcome.result;
  if (refusedPatterns.length > 0) {
    const first = refusedPatterns[0]!;
    const where = first.path ? `the pattern at ${first.path}` : `the pattern ${JSON.stringify(shorten(first.pattern))}`;
    throw refusal(`${where} cannot be used (${first.reason}); ${PATTERN_ENGINE_NOTE}`, {
      ...(first.path ? { path: first.path } : {}),
      patterns: refusedPatterns.map((p) => ({ path: p.path, pattern: shorten(p.pattern), reason: p.reason })),
    });
  }
  if (compileError !== null) throw refusal(`not a valid JSON Schema (${compileError})`);
}

export type DeliverySchemaCheck = {
  step: OracleStep;
  /** The schema itself is unusable: the buyer's fault, so a person reviews instead of failing the worker. */
  taskMisconfigured: boolean;
};

/**
 * Checks a delivery against the job's schema in a worker thread. For JSON deliveries the schema
 * describes the parsed document; for every other type the delivery is a string. A check that
 * overruns the time limit or the worker's memory fails the delivery, with that as the reason.
 */
export async function checkDeliveryAgainstOutputSchema({
  schema,
  content,
  artifactType,
  timeoutMs = DEFAULT_SCHEMA_CHECK_TIMEOUT_MS,
  signal,
}: {
  schema: unknown;
  content: string;
  artifactType: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}): Promise<DeliverySchemaCheck> {
  const failed = (detail: string): DeliverySchemaCheck => ({ step: { name: STEP_NAME, passed: false, detail }, taskMisconfigured: false });
  const misconfigured = (detail: string): DeliverySchemaCheck => ({
    step: { name: STEP_NAME, passed: false, detail: `The task's output schema is invalid: ${detail}` },
    taskMisconfigured: true,
  });

  // Schemas stored before the bounds existed get the same limits as new ones.
  const bounds = findOutputSchemaBoundsProblem(schema);
  if (bounds) return misconfigured(`it ${bounds.message}`);

  const outcome = await runSchemaTask({ op: "validate", schema, content, artifactType }, { timeoutMs, signal });
  if (outcome.status === "timed_out") {
    return failed(`The schema check exceeded its time limit of ${outcome.timeoutMs} ms`);
  }
  if (outcome.status === "out_of_memory") {
    // A schema whose patterns alone overflow the engine is the task's fault, not the delivery's.
    if (outcome.whileCompiling) return misconfigured(`its patterns need more memory than the pattern engine allows (${outcome.detail})`);
    return failed(`The schema check exceeded its memory limit (${outcome.detail})`);
  }
  const result = outcome.result;
  switch (result.kind) {
    case "valid":
      return { step: { name: STEP_NAME, passed: true, detail: "Content matches the output schema" }, taskMisconfigured: false };
    case "invalid":
      return failed(`Content does not match the output schema: ${formatSchemaErrors(result.errors, result.total)}`);
    case "not_json":
      return failed(`Content is not valid JSON: ${result.message}`);
    case "too_deep":
      return failed("Content is nested too deeply for the output schema to be checked");
    case "schema_invalid":
      return misconfigured(result.message);
  }
}

function refusal(problem: string, details: Record<string, unknown> = {}): AppError {
  return new AppError("VALIDATION_FAILED", `output_schema: ${problem}`, { field: "output_schema", ...details });
}

// Keywords whose values are data, not schemas: a "pattern" inside them is never compiled.
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples"]);
// Keywords whose values map names to schemas: their keys are names, not keywords.
const SCHEMA_MAP_KEYWORDS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"]);

/** Every `pattern` and `patternProperties` key in the schema, with its JSON pointer. */
function listPatterns(schema: unknown): { path: string; pattern: string }[] {
  const found: { path: string; pattern: string }[] = [];
  // Depth is bounded (findOutputSchemaBoundsProblem ran first), so recursion is safe here.
  const visit = (node: unknown, path: string, mapOf: string | null): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}/${i}`, null));
      return;
    }
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const childPath = `${path}/${escapePointer(key)}`;
      if (mapOf !== null) {
        if (mapOf === "patternProperties") found.push({ path: childPath, pattern: key });
        visit(value, childPath, null);
      } else if (key === "pattern" && typeof value === "string") {
        found.push({ path: childPath, pattern: value });
      } else if (!DATA_KEYWORDS.has(key)) {
        visit(value, childPath, SCHEMA_MAP_KEYWORDS.has(key) && typeof value === "object" && !Array.isArray(value) ? key : null);
      }
    }
  };
  visit(schema, "", null);
  return found;
}

function formatSchemaErrors(errors: SchemaErrorReport[], total: number): string {
  const described = errors.slice(0, MAX_SCHEMA_ERRORS_REPORTED).map(describeSchemaError);
  const omitted = total - described.length;
  return described.join("; ") + (omitted > 0 ? `; and ${omitted} more` : "");
}

/** `required` and `additionalProperties` errors point at the parent; name the property itself. */
function describeSchemaError(error: SchemaErrorReport): string {
  const params = error.params;
  if (error.keyword === "required" && typeof params.missingProperty === "string") {
    return `${error.instancePath}/${escapePointer(params.missingProperty)} is required`;
  }
  if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return `${error.instancePath}/${escapePointer(params.additionalProperty)} is not allowed`;
  }
  return `${error.instancePath === "" ? "/" : error.instancePath} ${error.message ?? "is invalid"}`;
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
