import { AppError } from "~/server/errors";

// What the layers under the API can hold: Postgres columns, JS Date, the JSON code that walks a
// request recursively. Inputs are held to these where they enter (the zod building blocks in
// src/server/api/schemas.ts, the JSON doors in src/server/http/handlers.ts, the list cursors),
// so no value reaches the database that it would refuse with an error.

/** int8: every money column (base units, jobs.price) and every BigInt. */
export const MAX_INT8 = 9_223_372_036_854_775_807n;
/** int4: every Int column. */
export const MAX_INT4 = 2_147_483_647;
/**
 * 9999-12-31T23:59:59Z in unix seconds. JS Date reaches year 275760 and Postgres timestamp(3)
 * 294276, but ISO 8601 strings (and most clients) stop at four-digit years.
 */
export const MAX_UNIX_SECONDS = 253_402_300_799;
/**
 * How deep a request's JSON may nest (the body object is level 1). Hashing a request for its
 * Idempotency-Key, compiling a JSON Schema and storing JSON all recurse; 64 keeps them far from
 * the stack limit and is deeper than any honest request.
 */
export const MAX_JSON_DEPTH = 64;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The hyphenated hex form of every id this API hands out (Postgres uuid accepts more, nothing less). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_RE.test(value);
}

// NUL: Postgres text and jsonb cannot hold it at all. An unpaired UTF-16 surrogate is not
// Unicode: a text column would silently store U+FFFD instead, and jsonb refuses it.
const UNSTORABLE_CHARACTER = /[\u0000\p{Cs}]/u;

/** Why Postgres cannot store this text as sent, or undefined when it can. */
export function unstorableTextReason(text: string): string | undefined {
  const found = UNSTORABLE_CHARACTER.exec(text);
  if (!found) return undefined;
  return found[0] === "\u0000" ? "must not contain NUL characters (\\u0000)" : "must be valid Unicode text (an unpaired surrogate \\uD800–\\uDFFF was sent)";
}

const ISO_TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A time exactly as Date#toISOString writes years 0000–9999: what the list cursors carry. */
export function isIsoTimestamp(value: unknown): value is string {
  return typeof value === "string" && ISO_TIMESTAMP_RE.test(value) && !Number.isNaN(Date.parse(value));
}

/** Field names as describeIssues writes them ("capabilities.2"), with unprintable characters escaped. */
function fieldName(path: string[]): string {
  return path.map((part) => part.replace(/[\u0000-\u001f\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)).join(".") || "body";
}

/**
 * The first thing in parsed request JSON that no layer below may see: nesting deeper than
 * MAX_JSON_DEPTH, or a string or key Postgres cannot store. Iterative, so the check itself
 * cannot overflow the stack on hostile nesting. Returns the error to answer with (400 naming
 * the field), or undefined.
 */
export function jsonInputProblem(input: unknown): AppError | undefined {
  const pending: Array<{ value: unknown; path: string[]; depth: number }> = [{ value: input, path: [], depth: 0 }];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === "string") {
      const reason = unstorableTextReason(value);
      if (reason) return problem(path, reason);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) {
      // The top-level field names the culprit; the full path would be MAX_JSON_DEPTH segments long.
      return problem(path.slice(0, 1), `nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    for (const [key, child] of Object.entries(value)) {
      const reason = unstorableTextReason(key);
      if (reason) return problem([...path, key], `a key ${reason}`);
      pending.push({ value: child, path: [...path, key], depth: depth + 1 });
    }
  }
  return undefined;
}

function problem(path: string[], reason: string): AppError {
  const field = fieldName(path);
  // The shape schema failures have (describeIssues): details.fields maps the field to its problem.
  return new AppError("VALIDATION_FAILED", `${field}: ${reason}`, { fields: { [field]: reason } });
}
