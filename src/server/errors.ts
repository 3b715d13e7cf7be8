import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";

// One table: stable application code -> tRPC code -> HTTP status. The tRPC error formatter
// and the REST adapter both read it; nothing maps errors by message text.
const ERROR_TABLE = {
  BAD_REQUEST: ["BAD_REQUEST", 400],
  SUBMISSION_JUDGING: ["BAD_REQUEST", 400],
  JOB_ALREADY_RESOLVED: ["BAD_REQUEST", 400],
  VALIDATION_FAILED: ["BAD_REQUEST", 400],
  PRICE_TOO_LOW: ["BAD_REQUEST", 400],
  EXPIRY_IN_PAST: ["BAD_REQUEST", 400],
  INVALID_WALLET: ["BAD_REQUEST", 400],
  CONTENT_TOO_LARGE: ["BAD_REQUEST", 400],
  DEPOSIT_NOT_FOUND: ["BAD_REQUEST", 400],
  DEPOSIT_FAILED: ["BAD_REQUEST", 400],
  DEPOSIT_TOO_SMALL: ["BAD_REQUEST", 400],
  DEPOSIT_UNCONFIRMED: ["BAD_REQUEST", 400],
  DEPOSIT_NOT_FROM_BUYER: ["BAD_REQUEST", 400],
  WALLET_REQUIRED: ["BAD_REQUEST", 400],
  WALLET_CHALLENGE_INVALID: ["BAD_REQUEST", 400],
  WALLET_CHALLENGE_EXPIRED: ["BAD_REQUEST", 400],
  WALLET_SIGNATURE_INVALID: ["BAD_REQUEST", 400],
  UNAUTHORIZED: ["UNAUTHORIZED", 401],
  FORBIDDEN: ["FORBIDDEN", 403],
  NOT_THE_BUYER: ["FORBIDDEN", 403],
  SELF_CLAIM: ["FORBIDDEN", 403],
  REPUTATION_TOO_LOW: ["FORBIDDEN", 403],
  NOT_A_PARTICIPANT: ["FORBIDDEN", 403],
  MISSING_CAPABILITIES: ["FORBIDDEN", 403],
  AGENT_DEACTIVATED: ["FORBIDDEN", 403],
  WALLET_NOT_PROVEN: ["FORBIDDEN", 403],
  NOT_FOUND: ["NOT_FOUND", 404],
  NOT_CLAIMED: ["NOT_FOUND", 404],
  AGENT_NOT_FOUND: ["NOT_FOUND", 404],
  JOB_NOT_FOUND: ["NOT_FOUND", 404],
  SUBMISSION_NOT_FOUND: ["NOT_FOUND", 404],
  API_KEY_NOT_FOUND: ["NOT_FOUND", 404],
  WEBHOOK_NOT_FOUND: ["NOT_FOUND", 404],
  WEBHOOK_DELIVERY_NOT_FOUND: ["NOT_FOUND", 404],
  DEAD_LETTER_NOT_FOUND: ["NOT_FOUND", 404],
  CONFLICT: ["CONFLICT", 409],
  AGENT_EXISTS: ["CONFLICT", 409],
  JOB_NOT_OPEN: ["CONFLICT", 409],
  JOB_NOT_FUNDED: ["CONFLICT", 409],
  JOB_NOT_REFUNDABLE: ["CONFLICT", 409],
  JOB_EXPIRED: ["CONFLICT", 409],
  ALREADY_CLAIMED: ["CONFLICT", 409],
  DEPOSIT_ALREADY_USED: ["CONFLICT", 409],
  WALLET_CHALLENGE_USED: ["CONFLICT", 409],
  JUDGING_IN_PROGRESS: ["CONFLICT", 409],
  SUBMISSION_LIMIT_REACHED: ["CONFLICT", 409],
  RETRY_LIMIT_REACHED: ["CONFLICT", 409],
  SUBMISSION_ALREADY_JUDGED: ["CONFLICT", 409],
  ALREADY_REFUNDED: ["CONFLICT", 409],
  NO_EXCESS: ["CONFLICT", 409],
  NOTHING_TO_RETRY: ["CONFLICT", 409],
  WEBHOOK_DISABLED: ["CONFLICT", 409],
  WEBHOOK_DELIVERY_IN_FLIGHT: ["CONFLICT", 409],
  DEAD_LETTER_NOT_FAILED: ["CONFLICT", 409],
  IDEMPOTENCY_KEY_IN_USE: ["CONFLICT", 409],
  IDEMPOTENCY_KEY_REUSED: ["UNPROCESSABLE_CONTENT", 422],
  DISPUTE_WINDOW_CLOSED: ["CONFLICT", 409],
  DISPUTE_NOT_OPEN: ["CONFLICT", 409],
  DISPUTE_NOT_FOUND: ["NOT_FOUND", 404],
  DISPUTE_ALREADY_OPEN: ["CONFLICT", 409],
  DISPUTE_REFUND_ALREADY_SENT: ["CONFLICT", 409],
  DISPUTE_WORKER_ALREADY_WON: ["CONFLICT", 409],
  PAYLOAD_TOO_LARGE: ["PAYLOAD_TOO_LARGE", 413],
  UNSUPPORTED_MEDIA_TYPE: ["UNSUPPORTED_MEDIA_TYPE", 415],
  RATE_LIMITED: ["TOO_MANY_REQUESTS", 429],
  INTERNAL: ["INTERNAL_SERVER_ERROR", 500],
  CHAIN_UNAVAILABLE: ["SERVICE_UNAVAILABLE", 503],
  NOT_IN_DEV_MODE: ["NOT_FOUND", 404],
} as const satisfies Record<string, readonly [TRPC_ERROR_CODE_KEY, number]>;

export type AppErrorCode = keyof typeof ERROR_TABLE;
/** Every error code, in table order (the OpenAPI document's Error schema lists them). */
export const APP_ERROR_CODES = Object.keys(ERROR_TABLE) as AppErrorCode[];

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: AppErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }

  get trpcCode(): TRPC_ERROR_CODE_KEY {
    return ERROR_TABLE[this.code][0];
  }

  get httpStatus(): number {
    return ERROR_TABLE[this.code][1];
  }
}

export function httpStatusOf(code: AppErrorCode): number {
  return ERROR_TABLE[code][1];
}

export function trpcCodeOf(code: AppErrorCode): TRPC_ERROR_CODE_KEY {
  return ERROR_TABLE[code][0];
}

const TRPC_TO_APP: Partial<Record<TRPC_ERROR_CODE_KEY, AppErrorCode>> = {
  BAD_REQUEST: "BAD_REQUEST",
  PARSE_ERROR: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  TOO_MANY_REQUESTS: "RATE_LIMITED",
};

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
}

// Zod's wording for the commonest mistakes, said the way an API user would.
function friendlier(message: string): string {
  if (/received undefined$/.test(message)) return "is required";
  if (/expected number, received NaN$/.test(message)) return "must be a number";
  return message;
}

/** A field-naming message for each validation issue: "price: must be at least 1". */
export function describeIssues(issues: ZodLikeIssue[]): { message: string; fields: Record<string, string> } {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const field = issue.path.map(String).join(".") || "body";
    fields[field] ??= friendlier(issue.message);
  }
  const message = Object.entries(fields)
    .map(([field, msg]) => `${field}: ${msg}`)
    .join("; ");
  return { message: message || "Invalid input", fields };
}

function isZodError(e: unknown): e is { issues: ZodLikeIssue[]; name: string } {
  return typeof e === "object" && e !== null && (e as { name?: string }).name === "ZodError" && Array.isArray((e as { issues?: unknown }).issues);
}

function prismaCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e && typeof (e as { code: unknown }).code === "string") {
    const code = (e as { code: string }).code;
    return /^P\d{4}$/.test(code) ? code : undefined;
  }
  return undefined;
}

/**
 * SQLSTATE of a database error: from the plain pg pool (src/server/db-sql.ts), or the one
 * Prisma's driver adapter carries (meta.driverAdapterError) when it has no code of its own.
 */
function postgresCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  if ((e as { name?: unknown }).name === "error" && "severity" in e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  const meta = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta;
  const code = meta?.driverAdapterError?.cause?.originalCode;
  return typeof code === "string" ? code : undefined;
}

// Postgres refusing a value the request carried (data exceptions): a NUL in text (22021) or
// jsonb (22P05), text that is no uuid/number/JSON (22P02; an unpaired surrogate in JSON is one),
// a number or time beyond its type (22003, 22007, 22008, 22009), text too long (22001). The schemas at
// the edge (src/server/api/schemas.ts, src/server/input-bounds.ts) refuse all of these naming
// the field; this is the net behind them, so a value they miss is still the client's 400. The
// server never builds such values itself, which is what makes the 400 honest; Postgres does not
// say which field, so the answer cannot either. Other database errors stay 500.
const INPUT_VALUE_SQLSTATES = new Set(["22001", "22003", "22007", "22008", "22009", "22021", "22P02", "22P05"]);
// The same refusals as Prisma names them: value too long, invalid input value, out of range,
// a number that does not fit int8.
const INPUT_VALUE_PRISMA_CODES = new Set(["P2000", "P2007", "P2020", "P2033"]);

/**
 * Turn anything thrown inside a procedure into an AppError. Unknown errors become INTERNAL
 * with a generic message; the original is logged by the caller, never sent to the client.
 */
export function toAppError(error: unknown, trpcCode?: TRPC_ERROR_CODE_KEY): AppError {
  if (error instanceof AppError) return error;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof AppError) return cause;
  if (isZodError(cause) || isZodError(error)) {
    const zerr = isZodError(cause) ? cause : (error as unknown as { issues: ZodLikeIssue[] });
    const { message, fields } = describeIssues(zerr.issues);
    return new AppError("VALIDATION_FAILED", message, { fields });
  }
  const pcode = prismaCode(cause) ?? prismaCode(error);
  const sqlState = postgresCode(cause) ?? postgresCode(error);
  if (pcode === "P2025") return new AppError("NOT_FOUND", "Not found");
  if (pcode === "P2002" || sqlState === "23505") return new AppError("CONFLICT", "Already exists");
  // A deadlock or serialization failure: nothing was written; the same request can be retried.
  if (pcode === "P2034" || sqlState === "40P01" || sqlState === "40001") return new AppError("CONFLICT", "The request collided with a concurrent one and was not applied; retry it");
  if ((pcode && INPUT_VALUE_PRISMA_CODES.has(pcode)) || (sqlState && INPUT_VALUE_SQLSTATES.has(sqlState))) {
    return new AppError("VALIDATION_FAILED", "A value in the request cannot be stored: text with a NUL character or invalid Unicode, or a number or time out of range", {
      database_code: sqlState ?? pcode,
    });
  }
  if (trpcCode && TRPC_TO_APP[trpcCode]) {
    return new AppError(TRPC_TO_APP[trpcCode]!, (error as Error).message || trpcCode);
  }
  return new AppError("INTERNAL", "Internal error");
}
