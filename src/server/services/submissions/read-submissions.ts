import type { Prisma, SubmissionStatus } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isIsoTimestamp, isUuid } from "~/server/input-bounds";

export async function getSubmission({ db, submissionId }: { db: Db; submissionId: string }) {
  const submission = isUuid(submissionId)
    ? await db.submission.findUnique({ where: { id: submissionId }, include: { job: { select: { buyerId: true } } } })
    : null;
  if (!submission) throw new AppError("SUBMISSION_NOT_FOUND", `Submission '${submissionId}' not found`);
  return submission;
}

interface SubmissionCursor {
  t: string;
  id: string;
}

/** Exactly what pageSubmissions writes (an ISO time Postgres can hold, a UUID), else a 400 naming `cursor`. */
function decodeCursor(cursor: string): SubmissionCursor {
  let parsed: Partial<SubmissionCursor> | null = null;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Partial<SubmissionCursor> | null;
  } catch {
    // falls through to the refusal below
  }
  if (typeof parsed !== "object" || parsed === null || !isIsoTimestamp(parsed.t) || !isUuid(parsed.id)) {
    throw new AppError("VALIDATION_FAILED", "cursor: not a cursor returned by this endpoint", { field: "cursor" });
  }
  return parsed as SubmissionCursor;
}

/** Keyset paging in (created_at, id) order, oldest first: stable under concurrent inserts. */
async function pageSubmissions(db: Db, where: Prisma.SubmissionWhereInput, opts: { limit: number; offset: number; cursor?: string; newestFirst?: boolean }) {
  const desc = opts.newestFirst ?? false;
  let pageWhere = where;
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor);
    const t = new Date(c.t);
    const after = desc ? { lt: t } : { gt: t };
    const idAfter = desc ? { lt: c.id } : { gt: c.id };
    pageWhere = { AND: [where, { OR: [{ createdAt: after }, { createdAt: t, id: idAfter }] }] };
  }
  const order = desc ? "desc" : "asc";
  const [submissions, total] = await Promise.all([
    db.submission.findMany({ where: pageWhere, orderBy: [{ createdAt: order }, { id: order }], take: opts.limit, skip: opts.cursor ? 0 : opts.offset, include: { job: { select: { buyerId: true } } } }),
    db.submission.count({ where }),
  ]);
  const last = submissions.at(-1);
  const nextCursor = last && submissions.length === opts.limit ? Buffer.from(JSON.stringify({ t: last.createdAt.toISOString(), id: last.id })).toString("base64url") : null;
  return { submissions, total, nextCursor };
}

export async function listJobSubmissions({
  db,
  jobId,
  status,
  limit,
  offset,
  cursor,
}: {
  db: Db;
  jobId: string;
  status?: SubmissionStatus;
  limit: number;
  offset: number;
  cursor?: string;
}) {
  const job = isUuid(jobId) ? await db.job.findUnique({ where: { id: jobId }, select: { id: true, buyerId: true } }) : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const page = await pageSubmissions(db, { jobId, ...(status ? { status } : {}) }, { limit, offset, cursor });
  return { job, ...page };
}

/** One worker's submissions across jobs, newest first (G16: `GET /submissions?worker_id=me`). */
export async function listWorkerSubmissions({ db, workerId, status, limit, offset, cursor }: { db: Db; workerId: string; status?: SubmissionStatus; limit: number; offset: number; cursor?: string }) {
  return pageSubmissions(db, { workerId, ...(status ? { status } : {}) }, { limit, offset, cursor, newestFirst: true });
}
