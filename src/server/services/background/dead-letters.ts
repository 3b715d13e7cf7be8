import type { Db } from "~/server/db";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { backgroundFunctions, type BackgroundFunctionKey } from "~/server/jobs/catalog";
import { splitWorkData } from "~/server/jobs/client";
import { log } from "~/server/log";
import { redactText, redactValue } from "~/server/log-redaction";

/**
 * Dead letters: background work that used all its attempts. pg-boss keeps such a job in
 * pgboss.job with state `failed`; the runner (pg-boss-runner.ts) has it archived only after
 * this long, so that is how long it is listed here and counted by /health.
 */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 86_400;

export interface DeadLetter {
  id: string;
  /** The background function (catalogue key); null for a queue the catalogue no longer has. */
  fn: BackgroundFunctionKey | null;
  queue: string;
  payload: Record<string, unknown>;
  /** The request that queued the work, when one did (not the sweep or a schedule). */
  requestId: string | null;
  attempts: number;
  error: string | null;
  singletonKey: string | null;
  createdAt: Date;
  failedAt: Date | null;
}

export type DeadLetterList =
  | { runner: "pg-boss"; deadLetters: DeadLetter[]; total: number; note: null }
  | { runner: "inngest"; deadLetters: []; total: 0; note: string };

const INNGEST_NOTE =
  "Background work runs on Inngest, which keeps its own failed runs: look and replay them in the Inngest dashboard (Functions → Runs, status Failed). pg-boss's dead letters are not used.";

const functionByQueue = new Map<string, BackgroundFunctionKey>(
  (Object.entries(backgroundFunctions) as [BackgroundFunctionKey, { name: string }][]).map(([key, spec]) => [spec.name.replaceAll("/", "."), key]),
);

interface FailedJobRow {
  id: string;
  name: string;
  data: unknown;
  retry_count: number;
  singleton_key: string | null;
  created_on: Date;
  completed_on: Date | null;
  output: unknown;
}

/** pg-boss's record of why the last attempt failed: a serialised Error, or { value }. */
function failureMessage(output: unknown): string | null {
  if (!output || typeof output !== "object") return typeof output === "string" ? output : null;
  const { message, value } = output as { message?: unknown; value?: unknown };
  if (typeof message === "string") return message;
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { message?: unknown }).message === "string") return (value as { message: string }).message;
  return null;
}

function toDeadLetter(row: FailedJobRow): DeadLetter {
  const { payload, context } = splitWorkData(row.data);
  const error = failureMessage(row.output);
  return {
    id: row.id,
    fn: functionByQueue.get(row.name) ?? null,
    queue: row.name,
    // The answer repeats stored text: scrubbed as a log line would be.
    payload: redactValue(payload) as Record<string, unknown>,
    requestId: context.requestId ?? null,
    attempts: row.retry_count + 1,
    error: error === null ? null : redactText(error).slice(0, 2_000),
    singletonKey: row.singleton_key,
    createdAt: row.created_on,
    failedAt: row.completed_on,
  };
}

/** Whether pg-boss has ever run against this database (its schema exists). */
async function pgBossInstalled(db: Db): Promise<boolean> {
  const [row] = await db.$queryRaw<{ table: string | null }[]>`SELECT to_regclass('pgboss.job')::text AS table`;
  return Boolean(row?.table);
}

/** How many dead letters wait (what /health compares with HEALTH_DEAD_LETTER_THRESHOLD). */
export async function countDeadLetters({ db }: { db: Db }): Promise<number> {
  if (!(await pgBossInstalled(db))) return 0;
  const [row] = await db.$queryRaw<{ count: bigint }[]>`SELECT count(*) AS count FROM pgboss.job WHERE state = 'failed'`;
  return Number(row?.count ?? 0);
}

/** Dead letters, the most recently failed first. Under Inngest: none, and a note saying where to look. */
export async function listDeadLetters({ db, env, fn, limit, offset }: { db: Db; env: Env; fn?: BackgroundFunctionKey; limit: number; offset: number }): Promise<DeadLetterList> {
  if (env.inngestEnabled) return { runner: "inngest", deadLetters: [], total: 0, note: INNGEST_NOTE };
  if (!(await pgBossInstalled(db))) return { runner: "pg-boss", deadLetters: [], total: 0, note: null };
  const queue = fn ? backgroundFunctions[fn].name.replaceAll("/", ".") : null;
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<FailedJobRow[]>`
      SELECT id::text AS id, name, data, retry_count, singleton_key, created_on, completed_on, output
      FROM pgboss.job
      WHERE state = 'failed' AND (${queue}::text IS NULL OR name = ${queue})
      ORDER BY completed_on DESC NULLS LAST, id
      LIMIT ${limit} OFFSET ${offset}`,
    db.$queryRaw<{ count: bigint }[]>`SELECT count(*) AS count FROM pgboss.job WHERE state = 'failed' AND (${queue}::text IS NULL OR name = ${queue})`,
  ]);
  return { runner: "pg-boss", deadLetters: rows.map(toDeadLetter), total: Number(count?.count ?? 0), note: null };
}

async function refuseUnlessFailed(db: Db, env: Env, id: string): Promise<never> {
  if (env.inngestEnabled) throw new AppError("DEAD_LETTER_NOT_FOUND", `No dead letter '${id}': ${INNGEST_NOTE}`);
  const [row] = (await pgBossInstalled(db)) ? await db.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM pgboss.job WHERE id = ${id}::uuid` : [];
  if (!row) throw new AppError("DEAD_LETTER_NOT_FOUND", `No dead letter '${id}' (unknown, or archived ${DEAD_LETTER_RETENTION_SECONDS / 86_400} days after it failed)`);
  throw new AppError("DEAD_LETTER_NOT_FAILED", `'${id}' is not a dead letter: it is ${row.state}${row.state === "created" || row.state === "retry" || row.state === "active" ? " (already requeued)" : ""}`, {
    state: row.state,
  });
}

/**
 * Puts a dead letter back in its queue with all its attempts again: the same job (id, payload,
 * singleton key, the request id it was queued under), from state `failed` to `retry`, due now.
 *
 * Safe to do at any time, twice, or while the same work was queued again by the sweep: only a row
 * still `failed` is changed (so of two requeues one wins and the other is refused), every handler
 * is idempotent (a transfer re-sends its stored signed bytes and never signs a second payment; a
 * verdict is applied only to a submission still judging; a webhook attempt is taken by a
 * conditional update), and the runner's work lease (jobs/work-leases.ts) keeps two copies of the
 * same work from running at once. `retry` rather than `created`: the queue's `short` policy keeps
 * one `created` job per singleton key, and a copy may already wait there. keep_until moves on,
 * else pg-boss's maintenance would archive a waiting job queued more than 14 days ago.
 */
export async function requeueDeadLetter({ db, env, id }: { db: Db; env: Env; id: string }): Promise<DeadLetter> {
  if (env.inngestEnabled || !(await pgBossInstalled(db))) return refuseUnlessFailed(db, env, id);
  const [row] = await db.$queryRaw<FailedJobRow[]>`
    UPDATE pgboss.job
    SET state = 'retry', retry_count = 0, started_on = NULL, completed_on = NULL, start_after = now(), output = NULL,
        keep_until = GREATEST(keep_until, now() + interval '14 days')
    WHERE id = ${id}::uuid AND state = 'failed'
    RETURNING id::text AS id, name, data, retry_count, singleton_key, created_on, completed_on, output`;
  if (!row) return refuseUnlessFailed(db, env, id);
  const requeued = toDeadLetter(row);
  log.info("dead letter requeued", { workId: requeued.id, fn: requeued.fn ?? requeued.queue });
  return requeued;
}

/**
 * Takes a dead letter off the list without running it (an admin looked: the work was done another
 * way, or is moot): moved to pgboss.archive, where pg-boss keeps finished jobs for 7 days.
 */
export async function discardDeadLetter({ db, env, id }: { db: Db; env: Env; id: string }): Promise<DeadLetter> {
  if (env.inngestEnabled || !(await pgBossInstalled(db))) return refuseUnlessFailed(db, env, id);
  const columns =
    "id, name, priority, data, state, retry_limit, retry_count, retry_delay, retry_backoff, start_after, started_on, singleton_key, singleton_on, expire_in, created_on, completed_on, keep_until, dead_letter, policy, output";
  const [row] = await db.$queryRawUnsafe<FailedJobRow[]>(
    `WITH discarded AS (DELETE FROM pgboss.job WHERE id = $1::uuid AND state = 'failed' RETURNING *),
          archived AS (INSERT INTO pgboss.archive (${columns}) SELECT ${columns} FROM discarded ON CONFLICT DO NOTHING)
     SELECT id::text AS id, name, data, retry_count, singleton_key, created_on, completed_on, output FROM discarded`,
    id,
  );
  if (!row) return refuseUnlessFailed(db, env, id);
  const discarded = toDeadLetter(row);
  log.info("dead letter discarded", { workId: discarded.id, fn: discarded.fn ?? discarded.queue });
  return discarded;
}
