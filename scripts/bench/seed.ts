// Set-based seeding for the benchmark: 10,000 buyers, 1,000,000 jobs (20 % funded), a few
// hundred thousand participants and transfers on resolved jobs, and 50 workers with API keys.
// The jobs table's secondary indexes are dropped during the load and rebuilt afterwards (their
// definitions are read back from pg_indexes, so they stay exactly what the migrations made).
import { createHash } from "node:crypto";
import pg from "pg";

export interface SeedOptions {
  jobs: number;
  buyers: number;
  workers: number;
  /** Funded jobs kept aside (never listed as the newest) for the claim test, ours and floor. */
  claimJobs: number;
}

const RACE_JOBS = 2 * (1 + 50);

export interface Worker {
  agentId: string;
  apiKey: string;
}

export interface SeedResult {
  workers: Worker[];
  /** Funded jobs reserved for claims: [0, claimJobs) measured, then the warm-up set. */
  claimJobIds: string[];
  warmupClaimJobIds: string[];
  /** For the race checks: [hot job, 50 jobs for one agent] × (ours, floor) = 102 jobs. */
  raceJobIds: string[];
  /** A mix of funded and resolved jobs (the latter with a participant and transfers) for GET by id. */
  byIdJobIds: string[];
  timings: Record<string, number>;
}

function apiKeyFor(i: number): string {
  // Deterministic 192-bit-looking keys; the server only ever sees their sha256.
  return `am_live_bench${String(i).padStart(4, "0")}${createHash("sha256").update(`bench-worker-${i}`).digest("base64url").slice(0, 19)}`;
}

export async function seed(databaseUrl: string, options: SeedOptions, say: (line: string) => void): Promise<SeedResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const timings: Record<string, number> = {};
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t0 = performance.now();
    const result = await client.query(sql, params);
    timings[name] = Math.round(performance.now() - t0);
    say(`  ${name}: ${(timings[name]! / 1000).toFixed(1)} s`);
    return result;
  };
  try {
    await client.query("SET synchronous_commit = off");
    await client.query("SET maintenance_work_mem = '512MB'");
    // Skips FK triggers during the bulk load: every reference is consistent by construction.
    await client.query("SET session_replication_role = replica");

    const { rows: indexRows } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
       WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [["jobs", "job_participants", "transfers"]],
    );
    for (const { indexname } of indexRows) await client.query(`DROP INDEX "${indexname}"`);

    await step(
      "agents",
      `INSERT INTO agents (agent_id, name, reputation, created_at, updated_at)
       SELECT 'buyer-' || lpad(i::text, 5, '0'), 'Buyer ' || i, 0.5, now() - interval '60 days', now()
       FROM generate_series(1, $1::int) i
       UNION ALL
       SELECT 'worker-' || lpad(i::text, 2, '0'), 'Worker ' || i, 0.8, now() - interval '60 days', now()
       FROM generate_series(1, $2::int) i`,
      [options.buyers, options.workers],
    );

    // Row n = 1 is the newest. Physical order follows created_at ascending, as real inserts do.
    // Status by n % 5: 0 funded (20 %), 1 open, 2 resolved, 3 cancelled, 4 expired. The first
    // `claimJobs * 2` funded rows (the oldest ones, at the far end) are kept for the claim test.
    await step(
      "jobs",
      `INSERT INTO jobs (task_id, title, description, rubric, artifact_type, price, fee_bps, buyer_id, status, expiry,
                         min_reputation, deposit_tx_hash, deposit_amount, deposit_from, funded_at, winner_id,
                         result_data, resolved_at, cancelled_at, created_at, updated_at)
       SELECT gen_random_uuid(),
              'Summarise article #' || n,
              'Summarise the linked article in under 100 words and name its main finding. Reference ' || n || '.',
              '1. Under 100 words. 2. Mentions the main finding. 3. No invented facts.',
              'text',
              (1 + n % 50) * 1000000::bigint,
              2000,
              'buyer-' || lpad((1 + n % $2::int)::text, 5, '0'),
              (CASE n % 5 WHEN 0 THEN 'funded' WHEN 1 THEN 'open' WHEN 2 THEN 'resolved' WHEN 3 THEN 'cancelled' ELSE 'expired' END)::"JobStatus",
              CASE WHEN n % 5 = 4 THEN created_at + interval '1 day' ELSE now() + interval '30 days' + (n % 1440) * interval '1 minute' END,
              0,
              CASE WHEN n % 5 IN (0, 2) THEN '0x' || lpad(to_hex(n), 64, '0') END,
              CASE WHEN n % 5 IN (0, 2) THEN (1 + n % 50) * 1000000::bigint END,
              CASE WHEN n % 5 IN (0, 2) THEN '0x' || lpad(to_hex(n % $2::int), 40, '0') END,
              CASE WHEN n % 5 IN (0, 2) THEN created_at + interval '5 minutes' END,
              CASE WHEN n % 5 = 2 THEN 'worker-' || lpad((1 + n % $3::int)::text, 2, '0') END,
              CASE WHEN n % 5 = 2 THEN 'The article finds that ' || n || ' is a number.' END,
              CASE WHEN n % 5 = 2 THEN created_at + interval '1 hour' END,
              CASE WHEN n % 5 = 3 THEN created_at + interval '2 hours' END,
              created_at,
              created_at
       FROM (
         SELECT n, date_trunc('milliseconds', now() - interval '1 hour' - n * interval '2.5 seconds' - (random() * 2000) * interval '1 millisecond') AS created_at
         FROM generate_series($1::int, 1, -1) n
       ) s`,
      [options.jobs, options.buyers, options.workers],
    );

    await step(
      "resolved jobs: participants",
      `INSERT INTO job_participants (id, task_id, worker_id, claimed_at)
       SELECT gen_random_uuid(), task_id, winner_id, created_at + interval '10 minutes' FROM jobs WHERE status = 'resolved'`,
    );
    await step(
      "resolved jobs: transfers",
      `INSERT INTO transfers (id, task_id, kind, idempotency_key, agent_id, to_address, amount, status, tx_hash, attempts, created_at, updated_at, sent_at, confirmed_at)
       SELECT gen_random_uuid(), task_id, k.kind::"TransferKind", k.kind || ':' || task_id, CASE WHEN k.kind = 'payout' THEN winner_id END,
              '0x' || lpad(to_hex(k.o), 40, '0'), CASE WHEN k.kind = 'payout' THEN price * 8 / 10 ELSE price * 2 / 10 END, 'success',
              '0x' || md5(k.kind || task_id::text) || md5(task_id::text || k.kind), 1, resolved_at, resolved_at, resolved_at, resolved_at
       FROM jobs, (VALUES ('payout', 1), ('fee', 2)) k(kind, o) WHERE status = 'resolved'`,
    );

    const workers: Worker[] = [];
    for (let i = 1; i <= options.workers; i++) workers.push({ agentId: `worker-${String(i).padStart(2, "0")}`, apiKey: apiKeyFor(i) });
    await step(
      "worker api keys",
      `INSERT INTO api_keys (id, agent_id, prefix, key_hash)
       SELECT gen_random_uuid(), w.agent_id, left(w.key, 14), encode(sha256(convert_to(w.key, 'UTF8')), 'hex')
       FROM unnest($1::text[], $2::text[]) AS w(agent_id, key)`,
      [workers.map((w) => w.agentId), workers.map((w) => w.apiKey)],
    );

    const t0 = performance.now();
    // Rebuilt two at a time on the two cores.
    const defs = indexRows.map((r) => r.indexdef);
    const extra = new pg.Client({ connectionString: databaseUrl });
    await extra.connect();
    await extra.query("SET maintenance_work_mem = '512MB'");
    const queue = [...defs];
    await Promise.all(
      [client, extra].map(async (c) => {
        for (let def = queue.shift(); def; def = queue.shift()) await c.query(def);
      }),
    );
    await extra.end();
    timings["rebuild indexes"] = Math.round(performance.now() - t0);
    say(`  rebuild ${defs.length} indexes: ${(timings["rebuild indexes"]! / 1000).toFixed(1)} s`);

    await client.query("SET session_replication_role = origin");
    // VACUUM sets the visibility map, so the capped count can be an index-only scan, as in production.
    await step("vacuum analyze", "VACUUM (ANALYZE) agents, api_keys, jobs, job_participants, transfers, submissions, job_events");

    return { ...(await describeSeed(databaseUrl, options)), timings };
  } finally {
    await client.end();
  }
}

/**
 * What the benchmark needs from a seeded database (also for --reuse): the workers' keys, the
 * claim jobs (the oldest funded ones, far from both list pages; they may be claimed by an
 * earlier run: call resetClaims) and a sample of jobs for GET by id.
 */
export async function describeSeed(databaseUrl: string, options: Pick<SeedOptions, "workers" | "claimJobs">): Promise<Omit<SeedResult, "timings">> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const workers: Worker[] = [];
    for (let i = 1; i <= options.workers; i++) workers.push({ agentId: `worker-${String(i).padStart(2, "0")}`, apiKey: apiKeyFor(i) });
    const { rows: claimRows } = await client.query<{ task_id: string }>(
      `SELECT task_id FROM jobs WHERE status IN ('funded', 'claimed') ORDER BY created_at ASC, task_id ASC LIMIT $1`,
      [options.claimJobs * 2 + RACE_JOBS],
    );
    const { rows: byIdRows } = await client.query<{ task_id: string }>(
      `(SELECT task_id FROM jobs TABLESAMPLE SYSTEM (1) WHERE status = 'funded' LIMIT 500)
       UNION ALL
       (SELECT task_id FROM jobs TABLESAMPLE SYSTEM (1) WHERE status = 'resolved' LIMIT 500)`,
    );
    return {
      workers,
      claimJobIds: claimRows.slice(0, options.claimJobs).map((r) => r.task_id),
      warmupClaimJobIds: claimRows.slice(options.claimJobs, options.claimJobs * 2).map((r) => r.task_id),
      raceJobIds: claimRows.slice(options.claimJobs * 2).map((r) => r.task_id),
      byIdJobIds: byIdRows.map((r) => r.task_id).sort(() => Math.random() - 0.5),
    };
  } finally {
    await client.end();
  }
}

/** Undo claims on these jobs (participants, events, counters), so the next run starts equal. */
export async function resetClaims(databaseUrl: string, jobIds: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ worker_id: string; n: string }>(
      "SELECT worker_id, count(*) AS n FROM job_participants WHERE task_id = ANY($1::uuid[]) GROUP BY worker_id",
      [jobIds],
    );
    for (const r of rows) await client.query("UPDATE agents SET jobs_claimed = greatest(jobs_claimed - $2::int, 0) WHERE agent_id = $1", [r.worker_id, Number(r.n)]);
    await client.query("DELETE FROM job_participants WHERE task_id = ANY($1::uuid[])", [jobIds]);
    await client.query("DELETE FROM job_events WHERE task_id = ANY($1::uuid[])", [jobIds]);
    await client.query("UPDATE jobs SET status = 'funded', active_workers = 0 WHERE task_id = ANY($1::uuid[])", [jobIds]);
    await client.query("COMMIT");
  } finally {
    await client.end();
  }
}

export interface ClaimCheck {
  participants: number;
  distinctPairs: number;
  jobsWithAllWorkers: number;
  activeWorkersSum: number;
  workerClaimedEvents: number;
  ok: boolean;
}

/** Exactly one participant row per (agent, job), counters and the event log agreeing. */
export async function checkClaims(databaseUrl: string, jobIds: string[], workers: number): Promise<ClaimCheck> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT
         (SELECT count(*) FROM job_participants WHERE task_id = ANY($1::uuid[]) AND unclaimed_at IS NULL)::int AS participants,
         (SELECT count(DISTINCT (task_id, worker_id)) FROM job_participants WHERE task_id = ANY($1::uuid[]))::int AS distinct_pairs,
         (SELECT count(*) FROM (SELECT task_id FROM job_participants WHERE task_id = ANY($1::uuid[]) GROUP BY task_id HAVING count(*) = $2) x)::int AS full_jobs,
         (SELECT coalesce(sum(active_workers), 0) FROM jobs WHERE task_id = ANY($1::uuid[]))::int AS active_sum,
         (SELECT count(*) FROM job_events WHERE task_id = ANY($1::uuid[]) AND kind = 'worker_claimed')::int AS events`,
      [jobIds, workers],
    );
    const r = rows[0];
    const expected = jobIds.length * workers;
    return {
      participants: r.participants,
      distinctPairs: r.distinct_pairs,
      jobsWithAllWorkers: r.full_jobs,
      activeWorkersSum: r.active_sum,
      workerClaimedEvents: r.events,
      ok: r.participants === expected && r.distinct_pairs === expected && r.full_jobs === jobIds.length && r.active_sum === expected && r.events === expected,
    };
  } finally {
    await client.end();
  }
}
