import { Prisma, type Job, type JobStatus } from "~/generated/prisma/client";
import { parseJsonTimestamp, sqlQuery } from "~/server/db-sql";
import { AppError } from "~/server/errors";
import { isIsoTimestamp, isUuid, MAX_INT8 } from "~/server/input-bounds";
import { effectiveStatusIsSql } from "./job-transitions";

export type JobSortField = "created_at" | "price" | "expiry";

export interface ListJobsInput {
  status?: JobStatus;
  buyerId?: string;
  workerId?: string;
  artifactType?: string;
  minPrice?: bigint;
  maxPrice?: bigint;
  capability?: string;
  /** Only jobs whose min_reputation and required capabilities this agent meets. */
  eligibleFor?: { agentId: string; reputation: number; capabilities: string[] };
  /** Only jobs this agent has not (actively) claimed. */
  unclaimedBy?: string;
  sortBy: JobSortField;
  sortOrder: "asc" | "desc";
  limit: number;
  offset: number;
  cursor?: string;
}

/** Beyond this many matches `total` is the planner's estimate (total_is_estimate: true). */
// Low enough that counting a popular filter stays cheap on every request.
export const EXACT_COUNT_CAP = 1_000;

const SORT_COLUMN: Record<JobSortField, Prisma.Sql> = {
  created_at: Prisma.raw("j.created_at"),
  price: Prisma.raw("j.price"),
  expiry: Prisma.raw("j.expiry"),
};

interface CursorPayload {
  v: string;
  id: string;
  s: JobSortField;
  o: "asc" | "desc";
}

export function encodeCursor(payload: CursorPayload): string {
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

const NOT_A_CURSOR = () => new AppError("VALIDATION_FAILED", "cursor: not a cursor returned by this endpoint", { field: "cursor" });

/**
 * A cursor is client input like any other: anything not exactly what encodeCursor writes (a
 * UUID id, and a price that fits int8 or an ISO time Postgres can hold) is refused here, as a
 * 400 naming `cursor`, before it can reach SQL.
 */
function decodeCursor(cursor: string, sortBy: JobSortField, sortOrder: "asc" | "desc"): CursorPayload {
  let parsed: Partial<CursorPayload> | null;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Partial<CursorPayload> | null;
  } catch {
    throw NOT_A_CURSOR();
  }
  if (typeof parsed !== "object" || parsed === null || typeof parsed.v !== "string" || !isUuid(parsed.id)) throw NOT_A_CURSOR();
  if (parsed.s !== sortBy || parsed.o !== sortOrder) {
    throw new AppError("VALIDATION_FAILED", "cursor: was made for another sort_by/sort_order; start again without a cursor", { field: "cursor" });
  }
  const fits = sortBy === "price" ? /^\d{1,19}$/.test(parsed.v) && BigInt(parsed.v) <= MAX_INT8 : isIsoTimestamp(parsed.v);
  if (!fits) throw NOT_A_CURSOR();
  return parsed as CursorPayload;
}

function sortValueSql(sortBy: JobSortField, value: string): Prisma.Sql {
  if (sortBy === "price") return Prisma.sql`${value}::bigint`;
  // The ISO string, not a Date: pg would send a Date in the server's local zone, and the
  // columns hold UTC. Casting '...Z' to timestamp keeps the UTC wall time.
  return Prisma.sql`${value}::timestamp`;
}

function whereSql(input: ListJobsInput): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  // The status a reader sees: a job past its expiry counts as expired (the one expiry rule).
  if (input.status) parts.push(effectiveStatusIsSql("j", input.status));
  if (input.buyerId) parts.push(Prisma.sql`j.buyer_id = ${input.buyerId}`);
  if (input.workerId) {
    parts.push(Prisma.sql`EXISTS (SELECT 1 FROM job_participants p WHERE p.task_id = j.task_id AND p.worker_id = ${input.workerId} AND p.unclaimed_at IS NULL)`);
  }
  if (input.unclaimedBy) {
    parts.push(Prisma.sql`NOT EXISTS (SELECT 1 FROM job_participants p WHERE p.task_id = j.task_id AND p.worker_id = ${input.unclaimedBy} AND p.unclaimed_at IS NULL)`);
  }
  if (input.artifactType) parts.push(Prisma.sql`j.artifact_type = ${input.artifactType}`);
  if (input.minPrice !== undefined) parts.push(Prisma.sql`j.price >= ${input.minPrice}`);
  if (input.maxPrice !== undefined) parts.push(Prisma.sql`j.price <= ${input.maxPrice}`);
  if (input.capability) parts.push(Prisma.sql`j.required_capabilities @> ARRAY[${input.capability}]::text[]`);
  if (input.eligibleFor) {
    parts.push(Prisma.sql`j.min_reputation <= ${input.eligibleFor.reputation}`);
    parts.push(Prisma.sql`j.required_capabilities <@ ${input.eligibleFor.capabilities}::text[]`);
    parts.push(Prisma.sql`j.buyer_id <> ${input.eligibleFor.agentId}`);
  }
  return parts.length ? Prisma.sql`WHERE ${Prisma.join(parts, " AND ")}` : Prisma.empty;
}

export interface JobRow {
  task_id: string;
  title: string;
  description: string;
  rubric: string;
  artifact_type: string;
  output_schema: Prisma.JsonValue | null;
  price: string | bigint;
  fee_bps: number;
  buyer_id: string;
  status: JobStatus;
  expiry: Date;
  max_submissions: number | null;
  max_retries: number | null;
  min_reputation: number;
  required_capabilities: string[] | null;
  max_winners: number;
  active_workers: number;
  submitted_workers: number;
  submission_count: number;
  excess_refunded_at: Date | null;
  deposit_tx_hash: string | null;
  deposit_amount: string | bigint | null;
  deposit_from: string | null;
  funded_at: Date | null;
  winner_id: string | null;
  winning_submission_id: string | null;
  result_data: string | null;
  resolved_at: Date | null;
  cancelled_at: Date | null;
  created_at: Date;
  updated_at: Date;
  participants: { worker_id: string; claimed_at: string }[] | null;
}

export function rowToJob(r: JobRow): Job & { participants: { workerId: string; claimedAt: Date }[]; _count: { submissions: number } } {
  return {
    id: r.task_id,
    title: r.title,
    description: r.description,
    rubric: r.rubric,
    artifactType: r.artifact_type,
    outputSchema: r.output_schema,
    // int8 arrives from pg as a string.
    price: BigInt(r.price),
    feeBps: r.fee_bps,
    buyerId: r.buyer_id,
    status: r.status,
    expiry: r.expiry,
    maxSubmissions: r.max_submissions,
    maxRetries: r.max_retries,
    minReputation: r.min_reputation,
    requiredCapabilities: r.required_capabilities ?? [],
    maxWinners: r.max_winners,
    activeWorkers: r.active_workers,
    submittedWorkers: r.submitted_workers,
    submissionCount: r.submission_count,
    excessRefundedAt: r.excess_refunded_at,
    depositTxHash: r.deposit_tx_hash,
    depositAmount: r.deposit_amount === null ? null : BigInt(r.deposit_amount),
    depositFrom: r.deposit_from,
    fundedAt: r.funded_at,
    winnerId: r.winner_id,
    winningSubmissionId: r.winning_submission_id,
    resultData: r.result_data,
    resolvedAt: r.resolved_at,
    cancelledAt: r.cancelled_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    participants: (r.participants ?? []).map((p) => ({ workerId: p.worker_id, claimedAt: parseJsonTimestamp(p.claimed_at) })),
    _count: { submissions: r.submission_count },
  };
}

// Past the cap `total` is an estimate anyway: keep it per filter for a few seconds instead of
// recounting on every page (the capped count and the EXPLAIN are two of the list's three
// statements). Exact totals, under the cap, are always counted afresh.
const ESTIMATE_TTL_MS = 5_000;
const MAX_CACHED_ESTIMATES = 1_000;
const estimates = new Map<string, { total: number; at: number }>();

function estimateKey(where: Prisma.Sql): string {
  return `${where.text}\u0000${JSON.stringify(where.values, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))}`;
}

function rememberEstimate(key: string, total: number): void {
  if (estimates.size >= MAX_CACHED_ESTIMATES) estimates.delete(estimates.keys().next().value!);
  estimates.set(key, { total, at: Date.now() });
}

async function countJobs(where: Prisma.Sql): Promise<{ total: number; estimated: boolean }> {
  const key = estimateKey(where);
  const cached = estimates.get(key);
  if (cached && Date.now() - cached.at < ESTIMATE_TTL_MS) return { total: cached.total, estimated: true };
  const [capped] = await sqlQuery<{ n: string }>(Prisma.sql`SELECT count(*) AS n FROM (SELECT 1 FROM jobs j ${where} LIMIT ${EXACT_COUNT_CAP + 1}) c`);
  const exact = Number(capped?.n ?? 0);
  if (exact <= EXACT_COUNT_CAP) return { total: exact, estimated: false };
  // Past the cap an exact count would scan every match: ask the planner instead.
  const plan = await sqlQuery<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }>(Prisma.sql`EXPLAIN (FORMAT JSON) SELECT 1 FROM jobs j ${where}`);
  const estimate = plan[0]?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? exact;
  const total = Math.max(Math.round(estimate), exact);
  rememberEstimate(key, total);
  return { total, estimated: true };
}

/**
 * Jobs matching every filter, all applied in SQL on indexed columns, newest first by default.
 * Paging by offset for short lists, or by an opaque keyset cursor for deep pages.
 */
export async function listJobs({ input }: { input: ListJobsInput }) {
  const column = SORT_COLUMN[input.sortBy];
  const direction = input.sortOrder === "asc" ? Prisma.raw("ASC") : Prisma.raw("DESC");
  const where = whereSql(input);
  let pageWhere = where;
  if (input.cursor) {
    const cursor = decodeCursor(input.cursor, input.sortBy, input.sortOrder);
    const comparison = input.sortOrder === "asc" ? Prisma.raw(">") : Prisma.raw("<");
    const keyset = Prisma.sql`(${column}, j.task_id) ${comparison} (${sortValueSql(input.sortBy, cursor.v)}, ${cursor.id}::uuid)`;
    pageWhere = where === Prisma.empty ? Prisma.sql`WHERE ${keyset}` : Prisma.sql`${where} AND ${keyset}`;
  }
  const offset = input.cursor ? 0 : input.offset;
  const [rows, count] = await Promise.all([
    sqlQuery<JobRow>(Prisma.sql`
      SELECT j.*, (
        SELECT json_agg(json_build_object('worker_id', p.worker_id, 'claimed_at', p.claimed_at) ORDER BY p.claimed_at)
        FROM job_participants p WHERE p.task_id = j.task_id AND p.unclaimed_at IS NULL
      ) AS participants
      FROM jobs j ${pageWhere}
      ORDER BY ${column} ${direction}, j.task_id ${direction}
      LIMIT ${input.limit} OFFSET ${offset}`),
    countJobs(where),
  ]);
  const jobs = rows.map(rowToJob);
  const last = jobs.at(-1);
  const nextCursor =
    last && jobs.length === input.limit
      ? encodeCursor({
          v: input.sortBy === "price" ? last.price.toString() : (input.sortBy === "expiry" ? last.expiry : last.createdAt).toISOString(),
          id: last.id,
          s: input.sortBy,
          o: input.sortOrder,
        })
      : null;
  return { jobs, total: count.total, totalIsEstimate: count.estimated, nextCursor };
}
