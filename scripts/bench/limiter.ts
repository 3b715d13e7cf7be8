// `npm run bench:limiter`: what the rate limiter costs on GET /api/v1/jobs/{task_id}.
// Seeds a small database (or reuses one), then runs our server (scripts/bench/our-server.ts,
// createAppServer as `npm start` serves the API) once per limiter store — off, Postgres, Redis —
// with budgets no run reaches, and measures the server process's CPU per request from its own
// process.cpuUsage() (asked over IPC before and after each run), Postgres' CPU per request, and
// req/s. Two callers: anonymous (one address, 50 connections) and 50 API keys in turn (each
// request also looks its key up). Runs are interleaved across stores and repeated; the medians
// are compared with the limiter off. Target: the limiter ≤ 10 % of the server's CPU per request.
// Then, in this process, the limiter alone: CPU per consumeBudget() call on each store, 50 at a
// time (steadier than the difference of two HTTP runs on a shared machine).
//   options: --rounds N (3) --duration S (10) --warmup S (3) --connections N (50) --jobs N (20000)
//            --stores off,postgres,redis --reuse <url> --keep --quiet-wait S (600) --quiet-busy % (15)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "../../test/support/database";
import { BENCH_RATE_LIMITS, load, startServer, waitQuiet, type Measurement, type ServerProcess } from "./load";
import { describeSeed, seed } from "./seed";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const argv = process.argv;
const opt = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const ROUNDS = Number(opt("rounds") ?? 3);
const DURATION = Number(opt("duration") ?? 10);
const WARMUP = Number(opt("warmup") ?? 3);
const CONNECTIONS = Number(opt("connections") ?? 50);
const JOBS = Number(opt("jobs") ?? 20_000);
const STORES = (opt("stores") ?? "off,postgres,redis").split(",") as Store[];
const REUSE = opt("reuse");
const KEEP = argv.includes("--keep");
const QUIET_WAIT = Number(opt("quiet-wait") ?? 600);
const QUIET_BUSY = Number(opt("quiet-busy") ?? 15);
const TARGET_SHARE = 0.1;

type Store = "off" | "postgres" | "redis";
type Caller = "anonymous" | "api keys";
const say = (line: string) => process.stdout.write(`${line}\n`);

const baseEnv = {
  NODE_ENV: "production",
  DATABASE_POOL_SIZE: "20",
  DATABASE_SQL_POOL_SIZE: "20",
  // Never called by GET /jobs/{id}, but validated at startup: any well-formed values do.
  CHAIN_RPC_URL: "http://127.0.0.1:1",
  CHAIN_ID: "31337",
  USDC_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  OPS_PRIVATE_KEY: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  TREASURY_ADDRESS: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  NEXTAUTH_SECRET: "bench-only-session-secret-never-used",
  EMBEDDED_PARTS: "",
  LOG_LEVEL: "warn",
  ...BENCH_RATE_LIMITS,
};

function storeEnv(store: Store): Record<string, string> {
  if (store === "redis") return { RATE_LIMIT_STORE: "redis", REDIS_URL: process.env.REDIS_URL || "redis://127.0.0.1:6379", RATE_LIMIT_KEY_PREFIX: `bench-${process.pid}` };
  return { RATE_LIMIT_STORE: store, REDIS_URL: "" };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * CPU per consumeBudget() call in this process, per store (the module the server runs), 50 calls
 * at a time, for three shapes of budget:
 * - "bench": 1,000,000,000 a minute over 50 keys, as the HTTP runs above (batches of 100);
 * - "60/min": 1,000 keys each spending its whole budget of 60 (batches of 6, 5, … 1);
 * - "10/min": 1,000 keys each spending 10 (batches of 1: one store round trip per call).
 */
async function limiterAlone(databaseUrl: string) {
  const shapes = [
    { shape: "bench", points: 1_000_000_000, keys: 50, calls: 20_000 },
    { shape: "60/min", points: 60, keys: 1_000, calls: 60_000 },
    { shape: "10/min", points: 10, keys: 1_000, calls: 10_000 },
  ];
  const out: { store: Store; shape: string; usPerCall: number[]; callsPerSecond: number }[] = [];
  let run = 0;
  for (const store of STORES.filter((s) => s !== "off")) {
    Object.assign(process.env, baseEnv, { DATABASE_URL: databaseUrl }, storeEnv(store));
    const { resetEnv } = await import("~/env");
    resetEnv();
    const { consumeBudget, closeRateLimiter } = await import("~/server/rate-limit/limiter");
    const { closeSqlPool } = await import("~/server/db-sql");
    for (const { shape, points, keys, calls } of shapes) {
      const measure = async () => {
        const prefix = `addr:bench-${++run}`;
        let next = 0;
        let refused = 0;
        const caller = async () => {
          while (next < calls) {
            const i = next++;
            const o = await consumeBudget({ policy: "address", key: `${prefix}.${i % keys}`, points, windowSeconds: 60 });
            if (o?.limited) refused++;
          }
        };
        const cpu = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 50 }, caller));
        const used = process.cpuUsage(cpu);
        if (refused) throw new Error(`limiter alone, ${store} ${shape}: ${refused} calls refused`);
        return { us: Number(((used.user + used.system) / calls).toFixed(1)), perSecond: Math.round(calls / ((performance.now() - t0) / 1000)) };
      };
      await measure();
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await measure());
      out.push({ store, shape, usPerCall: runs.map((r) => r.us), callsPerSecond: Math.round(median(runs.map((r) => r.perSecond))) });
    }
    await closeRateLimiter();
    await closeSqlPool();
  }
  return out;
}

async function main() {
  const started = Date.now();
  const servers: ServerProcess[] = [];
  let drop: (() => Promise<void>) | undefined;
  try {
    let databaseUrl = REUSE;
    if (!databaseUrl) {
      say(`Creating a database and seeding ${JOBS.toLocaleString("en")} jobs…`);
      const database = await createTestDatabase();
      databaseUrl = database.databaseUrl;
      drop = database.drop;
      await seed(databaseUrl, { jobs: JOBS, buyers: Math.max(100, Math.floor(JOBS / 100)), workers: 50, claimJobs: 100 }, say);
    }
    const seeded = await describeSeed(databaseUrl, { workers: 50, claimJobs: 100 });
    const ids = seeded.byIdJobIds;
    const keys = seeded.workers.map((w) => w.apiKey);

    for (const store of STORES) servers.push(await startServer(`limiter ${store}`, path.join(here, "our-server.ts"), { ...baseEnv, DATABASE_URL: databaseUrl, ...storeEnv(store) }));
    const byStore = new Map(STORES.map((store, i) => [store, servers[i]!]));

    // Each server answers one request per caller first, with the headers its limiter should add.
    for (const [store, server] of byStore) {
      for (const key of [undefined, keys[0]]) {
        const res = await fetch(`${server.baseUrl}/api/v1/jobs/${ids[0]}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
        if (res.status !== 200) throw new Error(`${store}: ${res.status} ${await res.text()}`);
        const policy = res.headers.get("ratelimit-policy");
        if ((store === "off") !== (policy === null)) throw new Error(`${store}: RateLimit-Policy ${policy}`);
      }
    }

    const requestsFor = (caller: Caller) => {
      let i = 0;
      return () => {
        const n = i++;
        const path = `/api/v1/jobs/${ids[n % ids.length]}`;
        return caller === "anonymous" ? { path } : { path, headers: { authorization: `Bearer ${keys[n % keys.length]}` } };
      };
    };

    const results: { store: Store; caller: Caller; round: number; m: Measurement }[] = [];
    const callers: Caller[] = ["anonymous", "api keys"];
    say(`Measuring GET /api/v1/jobs/{task_id}: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s, ${ROUNDS} rounds, stores ${STORES.join(", ")}`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const caller of callers) {
        // Interleaved: a slow minute on the shared machine hits every store alike.
        for (const store of round % 2 ? STORES : [...STORES].reverse()) {
          const server = byStore.get(store)!;
          await waitQuiet(`${store}, ${caller}`, { maxWaitSeconds: QUIET_WAIT, maxBusy: QUIET_BUSY, say });
          await load(server, { url: server.baseUrl, connections: CONNECTIONS, duration: WARMUP, next: requestsFor(caller) });
          const m = await load(server, { url: server.baseUrl, connections: CONNECTIONS, duration: DURATION, next: requestsFor(caller) });
          if (m.non2xx || m.errors) throw new Error(`${store}, ${caller}: ${m.non2xx} non-2xx, ${m.errors} errors`);
          results.push({ store, caller, round, m });
          say(
            `  round ${round} ${caller.padEnd(9)} ${store.padEnd(8)}: ${m.rps} req/s, p99 ${m.p99} ms, server ${m.serverCpuUsageMsPerReq} ms cpu/req (ticks ${m.serverCpuMsPerReq}), postgres ${m.postgresCpuMsPerReq} ms/req, others ${m.cpu.other} %`,
          );
        }
      }
    }

    const summary = callers.flatMap((caller) => {
      const of = (store: Store) => results.filter((r) => r.store === store && r.caller === caller).map((r) => r.m);
      const off = of("off");
      const offCpu = off.length ? median(off.map((m) => m.serverCpuUsageMsPerReq ?? m.serverCpuMsPerReq)) : undefined;
      const offPg = off.length ? median(off.map((m) => m.postgresCpuMsPerReq)) : undefined;
      return STORES.map((store) => {
        const ms = of(store);
        const cpu = median(ms.map((m) => m.serverCpuUsageMsPerReq ?? m.serverCpuMsPerReq));
        const limiterShare = offCpu !== undefined && store !== "off" ? (cpu - offCpu) / cpu : undefined;
        return {
          caller,
          store,
          rps: Math.round(median(ms.map((m) => m.rps))),
          p99: median(ms.map((m) => m.p99)),
          serverCpuMsPerReq: Number(cpu.toFixed(4)),
          serverCpuRuns: ms.map((m) => m.serverCpuUsageMsPerReq ?? m.serverCpuMsPerReq),
          postgresCpuMsPerReq: Number(median(ms.map((m) => m.postgresCpuMsPerReq)).toFixed(3)),
          limiterShareOfServerCpu: limiterShare,
          limiterPostgresMsPerReq: offPg !== undefined && store !== "off" ? Number((median(ms.map((m) => m.postgresCpuMsPerReq)) - offPg).toFixed(3)) : undefined,
          targetMet: limiterShare === undefined ? undefined : limiterShare <= TARGET_SHARE,
        };
      });
    });

    say("");
    say("| caller | store | req/s | p99 | server CPU ms/req (runs) | limiter share of server CPU | Postgres CPU ms/req | target ≤ 10 % met? |");
    say("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const s of summary) {
      const share = s.limiterShareOfServerCpu === undefined ? "—" : `${(100 * s.limiterShareOfServerCpu).toFixed(1)} %`;
      const met = s.targetMet === undefined ? "—" : s.targetMet ? "yes" : "no";
      say(`| ${s.caller} | ${s.store} | ${s.rps} | ${s.p99} ms | ${s.serverCpuMsPerReq} (${s.serverCpuRuns.join(", ")}) | ${share} | ${s.postgresCpuMsPerReq} | ${met} |`);
    }
    const alone = await limiterAlone(databaseUrl);
    say("");
    const offCpu = summary.find((s) => s.caller === "anonymous" && s.store === "off")?.serverCpuMsPerReq;
    say("The limiter alone (consumeBudget in this process, 50 calls at a time):");
    say("| store | budget shape | µs CPU per call (runs) | calls/s | share of a GET /jobs/{task_id} without limiter |");
    say("| --- | --- | --- | --- | --- |");
    for (const a of alone) {
      const us = median(a.usPerCall);
      const share = offCpu ? `${((100 * us) / 1000 / (offCpu + us / 1000)).toFixed(1)} % (of ${offCpu} ms)` : "—";
      say(`| ${a.store} | ${a.shape} | ${us} (${a.usPerCall.join(", ")}) | ${a.callsPerSecond} | ${share} |`);
    }

    const outDir = path.join(root, ".data", "bench");
    mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, `limiter-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(out, JSON.stringify({ options: { ROUNDS, DURATION, WARMUP, CONNECTIONS, JOBS, STORES }, summary, alone, results }, null, 2));
    say(`\nFigures written to ${path.relative(root, out)}; whole run ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    if (KEEP && drop) {
      say(`Database kept: ${databaseUrl}`);
      drop = undefined;
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    if (drop) await drop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
