import { z } from "zod";
import { MAX_INT4, MAX_INT8, MAX_UNIX_SECONDS, unstorableTextReason } from "~/server/input-bounds";
import { formatUsdc, parseUsdc } from "~/server/money";

// The building blocks every router's input is made of, so each kind of value is bounded the
// same way wherever it enters (issue 7): ids by their form, text by length and by what Postgres
// can store, money and counts by their column's range, times by what JS Date and Postgres both
// hold. A value outside them is a 400 VALIDATION_FAILED naming the field, never a database error.
// Request JSON as a whole (nesting depth, size) is bounded at the doors: src/server/http/handlers.ts.

/**
 * Text that fits where it is stored: at most `max` characters (after trimming, unless
 * `trim: false`), at least `min`, and no NUL or unpaired surrogate (Postgres text cannot hold the
 * one; jsonb, where edits and verdicts are logged, refuses the other). Without `max` the
 * request size limit bounds it and the service checks the size that matters (submission bytes).
 */
export function zText({ min = 0, max, trim = true }: { min?: number; max?: number; trim?: boolean } = {}) {
  let schema = z.string();
  if (trim) schema = schema.trim();
  if (min > 0) schema = schema.min(min);
  if (max !== undefined) schema = schema.max(max);
  return schema.superRefine((text, ctx) => {
    const reason = unstorableTextReason(text);
    if (reason) ctx.addIssue({ code: "custom", message: reason });
  });
}

/** Ids Postgres keeps as uuid (jobs, submissions, disputes, keys, webhooks, owners). */
export const ZUuid = z.guid({ error: "must be a UUID, as this API returned it" });

const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** An agent id as registration allows it; `me` fits it too (list filters read it as "the caller"). */
export const ZAgentId = z.string().regex(AGENT_ID_PATTERN, "must be 1–100 letters, digits, '_', '.' or '-', starting with a letter or digit");

/**
 * A USDC amount as sent (decimal string or positive JSON number), checked to parse and to fit
 * the int8 base-unit columns; the value is passed on as sent for the service to parse once more.
 */
export function zUsdcAmount(description: string) {
  return z
    .union([z.string(), z.number().positive()], { error: (iss) => (iss.input === undefined ? "is required" : `must be a USDC amount such as "5" or "2.50"`) })
    .superRefine((amount, ctx) => {
      const reason = usdcProblem(amount);
      if (reason) ctx.addIssue({ code: "custom", message: reason });
    })
    .meta({ description, example: "5" });
}

/** A USDC amount in a query string (a price filter), as base units. Zero is allowed. */
export const ZUsdcQuery = z.string().transform((amount, ctx) => {
  const reason = usdcProblem(amount);
  if (reason) {
    ctx.addIssue({ code: "custom", message: reason });
    return z.NEVER;
  }
  return parseUsdc(amount);
});

export const MAX_USDC = formatUsdc(MAX_INT8);

function usdcProblem(amount: string | number): string | undefined {
  let baseUnits: bigint;
  try {
    baseUnits = parseUsdc(amount);
  } catch {
    return `must be a USDC amount such as "5" or "2.50" (digits, up to 6 decimals, no sign or exponent)`;
  }
  return baseUnits > MAX_INT8 ? `must be at most ${MAX_USDC} USDC` : undefined;
}

/** A future-facing unix time in seconds, within what JS Date, Postgres and ISO 8601 all hold. */
export const ZUnixSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_UNIX_SECONDS, `must be unix seconds no later than 9999-12-31T23:59:59Z (${MAX_UNIX_SECONDS}); milliseconds are too large`);

/** Offset paging shared by every list endpoint (cursor paging is per endpoint). */
export const ZPaging = {
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: "page size, at most 200" }),
  offset: z.coerce.number().int().min(0).max(MAX_INT4).default(0),
};

/** Opaque list cursors: short text; the list decodes and checks what is inside. */
export const ZCursor = zText({ max: 1_000, trim: false });

// Query strings carry text: "false" must mean false, not a truthy string.
export const ZBoolQuery = z.enum(["true", "false"]).transform((v) => v === "true");

/** Capability tags: what jobs require and agents declare. */
export const ZTag = zText({ min: 1, max: 64 });
export const ZTags = z.array(ZTag).max(32);
