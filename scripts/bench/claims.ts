// The claim workloads shared by run.ts and experiments.ts.
import pg from "pg";
import type { ServerProcess } from "./load";

/** Every (agent, job) pair exactly once; neighbouring requests hit different jobs and agents. */
export function claimSequence(jobIds: string[], keys: string[]) {
  let i = 0;
  const total = jobIds.length * keys.length;
  return {
    get sent() {
      return i;
    },
    next() {
      const n = i++;
      if (n >= total) throw new Error("more claim requests than (agent, job) pairs");
      const job = jobIds[n % jobIds.length]!;
      const key = keys[((n % keys.length) + Math.floor(n / jobIds.length)) % keys.length]!;
      return { path: `/api/v1/jobs/${job}/claim`, headers: { Authorization: `Bearer ${key}` } };
    },
  };
}

export interface RaceResult {
  /** 50 agents claim one job at the same moment. */
  hotJob: { ok: number; statuses: Record<string, number>; participants: number; activeWorkers: number };
  /** One agent claims 50 jobs at the same moment. */
  hotAgent: { ok: number; statuses: Record<string, number>; participants: number };
  passed: boolean;
}

/** All-at-once claims, the two shapes of contention the throughput run spreads out. */
export async function claimRaces(server: ServerProcess, databaseUrl: string, jobIds: string[], keys: string[]): Promise<RaceResult> {
  const [hotJob, ...agentJobs] = jobIds;
  const post = (job: string, key: string) =>
    fetch(`${server.baseUrl}/api/v1/jobs/${job}/claim`, { method: "POST", headers: { Authorization: `Bearer ${key}` } }).then(async (r) => {
      const body = (await r.json().catch(() => ({}))) as { error?: { code?: string } };
      return r.status < 300 ? String(r.status) : `${r.status} ${body.error?.code ?? ""}`.trim();
    });
  const histogram = (xs: string[]) => xs.reduce<Record<string, number>>((h, x) => ((h[x] = (h[x] ?? 0) + 1), h), {});
  const a = await Promise.all(keys.map((k) => post(hotJob!, k)));
  const b = await Promise.all(agentJobs.map((j) => post(j, keys[0]!)));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT count(*)::int FROM job_participants WHERE task_id = $1) AS hot_participants,
              (SELECT active_workers FROM jobs WHERE task_id = $1) AS hot_active,
              (SELECT count(*)::int FROM job_participants p JOIN api_keys k ON k.agent_id = p.worker_id
                 WHERE p.task_id = ANY($2::uuid[]) AND k.key_hash = encode(sha256(convert_to($3, 'UTF8')), 'hex')) AS agent_participants`,
      [hotJob, agentJobs, keys[0]],
    );
    const r = rows[0];
    const hot = { ok: a.filter((x) => x === "200").length, statuses: histogram(a), participants: r.hot_participants, activeWorkers: r.hot_active };
    const agent = { ok: b.filter((x) => x === "200").length, statuses: histogram(b), participants: r.agent_participants };
    const passed = hot.ok === keys.length && hot.participants === keys.length && hot.activeWorkers === keys.length && agent.ok === agentJobs.length && agent.participants === agentJobs.length;
    return { hotJob: hot, hotAgent: agent, passed };
  } finally {
    await client.end();
  }
}

