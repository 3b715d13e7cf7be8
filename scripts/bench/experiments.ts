// What would each change buy? Runs list (first page) and job-by-id against the floor, our server,
// and our server with one part swapped at a time (scripts/bench/experiment-server.ts), and
// prints req/s, latency and the server process's CPU per request. Not part of `npm run bench`.
//   npx tsx scripts/bench/experiments.ts --reuse <database url kept by `npm run bench -- --keep`>
//   options: --duration S (default 10) --warmup S (3) --only name,name --repeat N (1)
//   --claims: instead, 50 agents × 100 jobs claims plus the two all-at-once races per variant
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EXACT_COUNT_CAP } from "../../src/server/services/jobs/list-jobs";
import { claimRaces, claimSequence } from "./claims";
import { checkClaims, describeSeed, resetClaims } from "./seed";
import { BENCH_RATE_LIMITS, load, startServer, waitQuiet, type Measurement } from "./load";

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv;
const opt = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const databaseUrl = opt("reuse");
if (!databaseUrl) {
  console.error("usage: experiments.ts --reuse <database url> (seed one with: npm run bench -- --keep)");
  process.exit(2);
}
const DURATION = Number(opt("duration") ?? 10);
const WARMUP = Number(opt("warmup") ?? 3);
const REPEAT = Number(opt("repeat") ?? 1);
const only = opt("only")?.split(",");
const say = (line: string) => process.stdout.write(`${line}\n`);

const env = {
  NODE_ENV: "production",
  FLOOR_COUNT_CAP: String(EXACT_COUNT_CAP),
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_SIZE: "20",
  POOL_SIZE: "20",
  CHAIN_RPC_URL: "http://127.0.0.1:1",
  CHAIN_ID: "31337",
  USDC_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  OPS_PRIVATE_KEY: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  TREASURY_ADDRESS: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  NEXTAUTH_SECRET: "bench-only-session-secret-never-used",
  EMBEDDED_PARTS: "",
  LOG_LEVEL: "warn",
  ...BENCH_RATE_LIMITS,
  RATE_LIMIT_STORE: "postgres",
  REDIS_URL: "",
};

const variants: { name: string; entry: string; env?: Record<string, string> }[] = [
  { name: "floor", entry: "floor-server.ts" },
  { name: "floor, no count", entry: "floor-server.ts", env: { FLOOR_COUNT: "none" } },
  { name: "ours", entry: "our-server.ts" },
  { name: "ours + cluster2", entry: "experiment-server.ts", env: { EXP: "cluster2" } },
  // A larger young generation: fewer scavenges for the short-lived JSON of each response.
  { name: "ours + semi-space 64 MB", entry: "our-server.ts", env: { NODE_OPTIONS: "--max-semi-space-size=64" } },
];

const seeded = await describeSeed(databaseUrl, { workers: 50, claimJobs: 100 });

if (argv.includes("--claims")) {
  const claimVariants = [
    { name: "floor", entry: "floor-server.ts" },
    { name: "ours", entry: "our-server.ts" },
    { name: "ours + cluster2", entry: "experiment-server.ts", env: { EXP: "cluster2" } },
  ].filter((v) => !only || only.includes(v.name));
  const keys = seeded.workers.map((w) => w.apiKey);
  const all = [...seeded.claimJobIds, ...seeded.warmupClaimJobIds, ...seeded.raceJobIds];
  const lines: string[] = [];
  for (let round = 0; round < REPEAT; round++) {
    for (const v of claimVariants) {
      await resetClaims(databaseUrl, all);
      const server = await startServer(v.name, path.join(here, v.entry), { ...env, ...v.env });
      try {
        await waitQuiet(`${v.name} claims`, { maxWaitSeconds: 600, maxBusy: 15, say });
        const warm = claimSequence(seeded.warmupClaimJobIds, keys);
        await load(server, { url: server.baseUrl, method: "POST", connections: 50, amount: 5000, next: () => warm.next() });
        const seq = claimSequence(seeded.claimJobIds, keys);
        const m = await load(server, { url: server.baseUrl, method: "POST", connections: 50, amount: 5000, next: () => seq.next() });
        const check = await checkClaims(databaseUrl, seeded.claimJobIds, keys.length);
        const races = await claimRaces(server, databaseUrl, seeded.raceJobIds.slice(0, 51), keys);
        const line = `| ${v.name} | ${m.rps} | ${m.p50} ms | ${m.p99} ms | ${m.serverCpuMsPerReq.toFixed(2)} | ${m.non2xx} | ${check.ok ? "ok" : JSON.stringify(check)} | ${JSON.stringify(races.hotJob.statuses)} | ${JSON.stringify(races.hotAgent.statuses)} | ${m.cpu.other} % |`;
        say(line);
        lines.push(line);
      } finally {
        await new Promise((r) => setTimeout(r, 1000));
        await server.stop();
      }
    }
  }
  await resetClaims(databaseUrl, all);
  say("\n| variant | claims/s | p50 | p99 | server CPU ms/claim | non-2xx | 5,000 pairs check | 50 agents on one job at once | one agent on 50 jobs at once | other load |");
  say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const l of lines) say(l);
  process.exit(0);
}
const results: { variant: string; scenario: string; m: Measurement; busyBefore: number }[] = [];
for (let round = 0; round < REPEAT; round++) {
  for (const v of variants) {
    if (only && !only.includes(v.name)) continue;
    const server = await startServer(v.name, path.join(here, v.entry), { ...env, ...v.env });
    try {
      const scenarios = [
        { scenario: "list", url: `${server.baseUrl}/api/v1/jobs?status=funded&limit=50` },
        (() => {
          let i = 0;
          return { scenario: "by id", url: server.baseUrl, next: () => ({ path: `/api/v1/jobs/${seeded.byIdJobIds[i++ % seeded.byIdJobIds.length]}` }) };
        })(),
      ];
      for (const s of scenarios) {
        const busyBefore = await waitQuiet(`${v.name} ${s.scenario}`, { maxWaitSeconds: 600, maxBusy: 15, say });
        await load(server, { ...s, connections: 50, duration: WARMUP });
        const m = await load(server, { ...s, connections: 50, duration: DURATION });
        results.push({ variant: v.name, scenario: s.scenario, m, busyBefore });
        say(`${v.name.padEnd(24)} ${s.scenario.padEnd(6)} ${String(m.rps).padStart(5)} req/s  p50 ${String(m.p50).padStart(4)} ms  p99 ${String(m.p99).padStart(4)} ms  server ${m.serverCpuMsPerReq.toFixed(2)} ms cpu/req  cpu ${JSON.stringify(m.cpu)}${m.non2xx || m.errors ? `  NON-2XX ${m.non2xx} ERR ${m.errors}` : ""}`);
      }
    } finally {
      // Let requests autocannon abandoned at the end finish before the pools close.
      await new Promise((r) => setTimeout(r, 1000));
      await server.stop();
    }
  }
}

say("\n| variant | scenario | req/s | p50 | p99 | server CPU ms/req | other load during run |");
say("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) say(`| ${r.variant} | ${r.scenario} | ${r.m.rps} | ${r.m.p50} ms | ${r.m.p99} ms | ${r.m.serverCpuMsPerReq.toFixed(2)} | ${r.m.cpu.other} % |`);
process.exit(0);
