// The floor: bare node:http + a pg Pool running the SQL our three endpoints run
// (src/server/services/jobs/list-jobs.ts, get-job.ts, claim-job.ts + job-state.ts,
// src/server/services/agents/authenticate-api-key.ts), answering the same JSON shape.
// No framework, no validation library, no ORM: what this machine can do for the same work.
//
// Started as a child process by scripts/bench/run.ts; prints {"port": n} on its first line.
// Env: DATABASE_URL, POOL_SIZE (default 20, the app's DATABASE_POOL_SIZE default).
//
// Claims: one transaction with claim-job.ts's four statements (lock the job, lock the worker,
// upsert the participant, one CTE for counters, status and events).
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import pg from "pg";

// timestamp without time zone holds UTC (Prisma's convention): read it as UTC.
pg.types.setTypeParser(1114, (s: string) => new Date(`${s.replace(" ", "T")}Z`));

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 20) });
// The cap on exact counts is list-jobs.ts's EXACT_COUNT_CAP; run.ts passes it in.
const EXACT_COUNT_CAP = Number(process.env.FLOOR_COUNT_CAP ?? 1_000);
const ESTIMATE_TTL_MS = 5_000;
const estimates = new Map<string, { total: number; at: number }>();
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function usdc(baseUnits: string | null): string | null {
  if (baseUnits === null) return null;
  const padded = baseUnits.padStart(7, "0");
  const whole = padded.slice(0, -6);
  const frac = padded.slice(-6).replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

interface Row {
  [k: string]: any;
}

function effectiveStatus(row: Row): string {
  return ["open", "funded", "claimed"].includes(row.status) && row.expiry.getTime() <= Date.now() ? "expired" : row.status;
}

function jobDto(r: Row, transfers?: Row[]) {
  const payouts = (transfers ?? []).filter((t) => t.kind === "payout");
  const byKind = (kind: string) => transfers?.find((t) => t.kind === kind);
  const resultSize = r.result_data === null ? null : Buffer.byteLength(r.result_data, "utf8");
  return {
    task_id: r.task_id,
    title: r.title,
    description: r.description,
    rubric: r.rubric,
    artifact_type: r.artifact_type,
    output_schema: r.output_schema,
    price: usdc(r.price),
    price_base_units: r.price,
    fee_bps: r.fee_bps,
    buyer_id: r.buyer_id,
    status: effectiveStatus(r),
    expiry: Math.floor(r.expiry.getTime() / 1000),
    max_submissions: r.max_submissions,
    max_retries: r.max_retries,
    min_reputation: r.min_reputation,
    required_capabilities: r.required_capabilities ?? [],
    max_winners: r.max_winners,
    active_workers: r.active_workers,
    submitted_workers: r.submitted_workers,
    deposit_tx_hash: r.deposit_tx_hash,
    deposit_amount: usdc(r.deposit_amount),
    participants: (r.participants ?? []).map((p: Row) => ({ worker_id: p.worker_id, claimed_at: new Date(`${p.claimed_at}Z`).toISOString() })),
    submission_count: r.submission_count,
    winner_id: r.winner_id,
    winners: payouts.map((p) => ({ worker_id: p.agent_id ?? "", amount: usdc(String(BigInt(p.amount) + BigInt(transfers?.find((t) => t.kind === "fee" && t.agent_id === p.agent_id)?.amount ?? 0))), payout_status: p.status, payout_tx_hash: p.tx_hash })),
    result_data: null,
    result_size: resultSize,
    result_url: resultSize === null ? null : `/api/v1/jobs/${r.task_id}/result`,
    payout_tx_hash: byKind("payout")?.tx_hash ?? null,
    fee_tx_hash: byKind("fee")?.tx_hash ?? null,
    refund_tx_hash: byKind("refund")?.tx_hash ?? null,
    payout_status: byKind("payout")?.status ?? null,
    refund_status: byKind("refund")?.status ?? null,
    ...(transfers
      ? {
          transfers: transfers.map((t) => ({
            transfer_id: t.id,
            kind: t.kind,
            agent_id: t.agent_id,
            to_address: t.to_address,
            amount: usdc(String(t.amount)),
            status: t.status,
            tx_hash: t.tx_hash,
            error: t.error,
            created_at: new Date(`${t.created_at}Z`).toISOString(),
            confirmed_at: t.confirmed_at ? new Date(`${t.confirmed_at}Z`).toISOString() : null,
          })),
        }
      : {}),
    created_at: r.created_at.toISOString(),
    funded_at: iso(r.funded_at),
    resolved_at: iso(r.resolved_at),
  };
}

const PARTICIPANTS_SQL = `(
  SELECT json_agg(json_build_object('worker_id', p.worker_id, 'claimed_at', p.claimed_at) ORDER BY p.claimed_at)
  FROM job_participants p WHERE p.task_id = j.task_id AND p.unclaimed_at IS NULL
) AS participants`;

const STATUSES = new Set(["open", "funded", "claimed", "resolved", "expired", "cancelled", "refunded"]);

async function listJobs(query: URLSearchParams) {
  const status = query.get("status") ?? undefined;
  if (status !== undefined && !STATUSES.has(status)) throw new HttpError(400, "VALIDATION_FAILED", "status: invalid");
  const limit = Number(query.get("limit") ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new HttpError(400, "VALIDATION_FAILED", "limit: 1..200");
  const params: unknown[] = [];
  const where: string[] = [];
  if (status === "open" || status === "funded" || status === "claimed") {
    params.push(status);
    where.push(`j.status = $${params.length}::"JobStatus" AND j.expiry > now()`);
  } else if (status) {
    params.push(status);
    where.push(`j.status = $${params.length}::"JobStatus"`);
  }
  const countParams = [...params];
  const whereSql = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const cursor = query.get("cursor");
  if (cursor) {
    let c: { v: string; id: string; s: string; o: string };
    try {
      c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    } catch {
      throw new HttpError(400, "VALIDATION_FAILED", "cursor: not a cursor returned by this endpoint");
    }
    if (c.s !== "created_at" || c.o !== "desc") throw new HttpError(400, "VALIDATION_FAILED", "cursor: was made for another sort");
    params.push(new Date(c.v).toISOString(), c.id);
    where.push(`(j.created_at, j.task_id) < ($${params.length - 1}::timestamp, $${params.length}::uuid)`);
  }
  const pageWhere = where.length ? `WHERE ${where.join(" AND ")}` : "";
  params.push(limit);
  const rowsSql = `SELECT j.*, ${PARTICIPANTS_SQL} FROM jobs j ${pageWhere} ORDER BY j.created_at DESC, j.task_id DESC LIMIT $${params.length} OFFSET 0`;
  const countJobs = async () => {
    // FLOOR_COUNT=none (experiments only): no total at all, to show what the count costs.
    if (process.env.FLOOR_COUNT === "none") return { total: -1, estimated: true };
    // As list-jobs.ts: an estimate (past the cap) is reused per filter for 5 s.
    const key = `${whereSql}|${JSON.stringify(countParams)}`;
    const cached = estimates.get(key);
    if (cached && Date.now() - cached.at < ESTIMATE_TTL_MS) return { total: cached.total, estimated: true };
    const capped = await pool.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM jobs j ${whereSql} LIMIT ${EXACT_COUNT_CAP + 1}) c`, countParams);
    const exact = capped.rows[0].n as number;
    if (exact <= EXACT_COUNT_CAP) return { total: exact, estimated: false };
    const plan = await pool.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM jobs j ${whereSql}`, countParams);
    const estimate = plan.rows[0]["QUERY PLAN"][0].Plan["Plan Rows"] as number;
    const total = Math.max(Math.round(estimate), exact);
    estimates.set(key, { total, at: Date.now() });
    return { total, estimated: true };
  };
  const [rows, count] = await Promise.all([pool.query(rowsSql, params), countJobs()]);
  const last = rows.rows.at(-1);
  const nextCursor =
    last && rows.rows.length === limit ? Buffer.from(JSON.stringify({ v: last.created_at.toISOString(), id: last.task_id, s: "created_at", o: "desc" })).toString("base64url") : null;
  return { jobs: rows.rows.map((r) => jobDto(r)), total: count.total, total_is_estimate: count.estimated, limit, offset: 0, next_cursor: nextCursor };
}

async function getJob(id: string) {
  if (!UUID_RE.test(id)) throw new HttpError(404, "JOB_NOT_FOUND", `Job '${id}' not found`);
  // get-job.ts's statement.
  const { rows } = await pool.query(
    `SELECT j.*, ${PARTICIPANTS_SQL},
       (SELECT json_agg(json_build_object(
           'id', t.id, 'task_id', t.task_id, 'kind', t.kind, 'idempotency_key', t.idempotency_key, 'agent_id', t.agent_id,
           'to_address', t.to_address, 'amount', t.amount::text, 'status', t.status, 'tx_hash', t.tx_hash, 'nonce', t.nonce,
           'error', t.error, 'attempts', t.attempts, 'created_at', t.created_at, 'updated_at', t.updated_at,
           'sent_at', t.sent_at, 'confirmed_at', t.confirmed_at) ORDER BY t.created_at, t.id)
          FROM transfers t WHERE t.task_id = j.task_id) AS transfers
     FROM jobs j WHERE j.task_id = $1::uuid`,
    [id],
  );
  if (!rows[0]) throw new HttpError(404, "JOB_NOT_FOUND", `Job '${id}' not found`);
  return jobDto(rows[0], rows[0].transfers ?? []);
}

async function authenticate(header: string | undefined): Promise<{ agentId: string }> {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new HttpError(401, "UNAUTHORIZED", "This operation needs an API key");
  const hash = createHash("sha256").update(match[1]!).digest("hex");
  const { rows } = await pool.query(
    `SELECT k.id, k.agent_id, k.last_used_at FROM api_keys k JOIN agents a ON a.agent_id = k.agent_id
     WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.deactivated_at IS NULL`,
    [hash],
  );
  const key = rows[0];
  if (!key) throw new HttpError(401, "UNAUTHORIZED", "API key is not valid or has been revoked");
  if (!key.last_used_at || Date.now() - key.last_used_at.getTime() > 60_000) {
    pool.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", [key.id]).catch(() => undefined);
  }
  return { agentId: key.agent_id };
}

async function claimJob(jobId: string, agentId: string) {
  if (!UUID_RE.test(jobId)) throw new HttpError(404, "JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows: jobs } = await client.query("SELECT * FROM jobs WHERE task_id = $1 FOR UPDATE", [jobId]);
    const job = jobs[0];
    if (!job) throw new HttpError(404, "JOB_NOT_FOUND", `Job '${jobId}' not found`);
    const status = effectiveStatus(job);
    if (status !== "funded" && status !== "claimed") throw new HttpError(409, "JOB_NOT_FUNDED", `Job is ${status}`);
    const { rows: agents } = await client.query(
      "SELECT agent_id, reputation, capabilities, wallet_address, deactivated_at FROM agents WHERE agent_id = $1 FOR NO KEY UPDATE",
      [agentId],
    );
    const worker = agents[0];
    if (!worker || worker.deactivated_at) throw new HttpError(404, "AGENT_NOT_FOUND", "not an active agent");
    if (job.buyer_id === worker.agent_id) throw new HttpError(409, "SELF_CLAIM", "A buyer cannot claim their own job");
    if (worker.reputation < job.min_reputation) throw new HttpError(403, "REPUTATION_TOO_LOW", "reputation too low");
    const missing = (job.required_capabilities ?? []).filter((t: string) => !(worker.capabilities ?? []).includes(t));
    if (missing.length) throw new HttpError(403, "MISSING_CAPABILITIES", missing.join(", "));
    const now = new Date();
    const { rows: participant } = await client.query(
      `INSERT INTO job_participants (id, task_id, worker_id, claimed_at) VALUES ($1::uuid, $2::uuid, $3, $4::timestamp)
       ON CONFLICT (task_id, worker_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at, unclaimed_at = NULL WHERE job_participants.unclaimed_at IS NOT NULL
       RETURNING id, task_id, worker_id, claimed_at, unclaimed_at, (xmax = 0) AS inserted`,
      [randomUUID(), jobId, agentId, now.toISOString()],
    );
    const p = participant[0];
    if (!p) throw new HttpError(409, "ALREADY_CLAIMED", "You have already claimed this job");
    const first = job.status === "funded";
    const events = first
      ? `($5::uuid, $2::uuid, 'claimed', 'funded', 'claimed', $1, 'first worker claimed', $3::timestamp), ($6::uuid, $2::uuid, 'worker_claimed', NULL, NULL, $1, NULL, $7::timestamp)`
      : `($5::uuid, $2::uuid, 'worker_claimed', NULL, NULL, $1, NULL, $3::timestamp)`;
    const { rows: updated } = await client.query(
      `WITH counted AS (UPDATE agents SET jobs_claimed = jobs_claimed + 1, updated_at = $3::timestamp WHERE agent_id = $1 AND $4::boolean),
       logged AS (INSERT INTO job_events (id, task_id, kind, from_status, to_status, actor, reason, created_at) VALUES ${events})
       UPDATE jobs SET active_workers = active_workers + 1, status = 'claimed', updated_at = $3::timestamp WHERE task_id = $2::uuid RETURNING status`,
      [agentId, jobId, now.toISOString(), p.inserted, randomUUID(), ...(first ? [randomUUID(), new Date(now.getTime() + 1).toISOString()] : [])],
    );
    await client.query("COMMIT");
    return { task_id: p.task_id, worker_id: p.worker_id, claimed_at: p.claimed_at.toISOString(), status: "claimed", job_status: updated[0].status, warnings: worker.wallet_address ? [] : ["no wallet"] };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const parts = url.pathname.split("/").filter(Boolean); // api v1 jobs [id] [claim]
  const handle = async () => {
    if (parts[0] !== "api" || parts[1] !== "v1" || parts[2] !== "jobs") throw new HttpError(404, "NOT_FOUND", "No route");
    if (req.method === "GET" && parts.length === 3) return send(res, 200, await listJobs(url.searchParams));
    if (req.method === "GET" && parts.length === 4) return send(res, 200, await getJob(parts[3]!));
    if (req.method === "POST" && parts.length === 5 && parts[4] === "claim") {
      for await (const _ of req); // drain any body
      const actor = await authenticate(req.headers.authorization);
      return send(res, 200, await claimJob(parts[3]!, actor.agentId));
    }
    throw new HttpError(404, "NOT_FOUND", "No route");
  };
  handle().catch((err) => {
    if (err instanceof HttpError) return send(res, err.status, { error: { code: err.code, message: err.message, details: null } });
    console.error(err);
    send(res, 500, { error: { code: "INTERNAL", message: "Internal error", details: null } });
  });
});

// The bench asks over IPC for this process's CPU time (scripts/bench/load.ts, cpuUsage).
process.on("message", (message) => {
  if (message === "cpu-usage") process.send?.({ cpuUsage: process.cpuUsage() });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});

const stop = () => server.close(() => pool.end().finally(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
