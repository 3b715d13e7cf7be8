// Load generation and process plumbing shared by run.ts and the experiments.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import autocannon from "autocannon";

export interface Measurement {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Share of the machine's CPU (all cores = 100 %) during the run, by whom. */
  cpu: { server: number; loadgen: number; postgres: number; other: number; idle: number };
  /** Server process CPU milliseconds per request (from /proc, 10 ms ticks). */
  serverCpuMsPerReq: number;
  /** The same from the server's own process.cpuUsage() (microseconds), when it reports it (our-server.ts). */
  serverCpuUsageMsPerReq?: number;
  /** CPU milliseconds of all Postgres processes per request. */
  postgresCpuMsPerReq: number;
}

/**
 * Budgets no bench run reaches (50 connections from one address or 50 keys, ~1,000 req/s): the
 * limiter runs, counts in Postgres and answers every call. Pass to our server's environment.
 */
export const BENCH_RATE_LIMITS: Record<string, string> = {
  RATE_LIMIT_READS_PER_MINUTE: "1000000000",
  RATE_LIMIT_WRITES_PER_MINUTE: "1000000000",
  RATE_LIMIT_SUBMISSIONS_PER_MINUTE: "1000000000",
  RATE_LIMIT_OWNER_READS_PER_MINUTE: "1000000000",
  RATE_LIMIT_OWNER_WRITES_PER_MINUTE: "1000000000",
  RATE_LIMIT_ADDRESS_PER_MINUTE: "1000000000",
  RATE_LIMIT_SIGNUPS_PER_HOUR: "1000000000",
  RATE_LIMIT_FAUCET_PER_HOUR: "1000000000",
};

export interface ServerProcess {
  name: string;
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
  /** The server's process.cpuUsage() (user + system, µs), if it answers over IPC within 2 s. */
  cpuUsage(): Promise<number | undefined>;
}

/** Starts a TypeScript entry (through tsx) as a child process that prints {"port": n} first. */
export async function startServer(name: string, entry: string, env: Record<string, string>): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, ...env },
    // The IPC channel carries process.cpuUsage() requests (our-server.ts answers them).
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no port after 60 s`)), 60_000);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before listening`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  lines.on("line", (line) => process.stdout.write(`[${name}] ${line}\n`));
  return {
    name,
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    cpuUsage: () =>
      new Promise<number | undefined>((resolve) => {
        const timer = setTimeout(() => {
          child.off("message", onMessage);
          resolve(undefined);
        }, 2_000);
        const onMessage = (message: unknown) => {
          const usage = (message as { cpuUsage?: NodeJS.CpuUsage }).cpuUsage;
          if (!usage) return;
          clearTimeout(timer);
          child.off("message", onMessage);
          resolve(usage.user + usage.system);
        };
        child.on("message", onMessage);
        child.send("cpu-usage");
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process and of its direct children (cluster workers). */
function processCpuTicks(pid: number): number {
  let sum = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(entry) === pid || Number(fields[1]) === pid) sum += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/** CPU ticks of every process whose name is `postgres` (the server and its backends). */
function postgresTicks(): number {
  let sum = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime + stime, and cutime + cstime: backends that exited count through the postmaster.
      sum += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/** Busy share of the machine (0-100) over `ms`, while we send nothing: others' load. */
export async function machineBusy(ms = 2000): Promise<number> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  return Math.round((100 * (b.busy - a.busy)) / Math.max(b.total - a.total, 1));
}

function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + cpu[4]!;
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  amount?: number;
  method?: "GET" | "POST";
  /** Called once per request sent, returning its path (and headers). */
  next?: () => { path: string; headers?: Record<string, string> };
}

export async function load(server: ServerProcess, options: LoadOptions): Promise<Measurement> {
  const usageBefore = await server.cpuUsage();
  const cpuBefore = processCpuTicks(server.pid);
  const pgBefore = postgresTicks();
  const machineBefore = machineTicks();
  const selfBefore = process.cpuUsage();
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? 10 }),
    method: options.method ?? "GET",
    ...(options.next
      ? {
          requests: [
            {
              setupRequest: (req: Record<string, unknown>) => {
                const n = options.next!();
                return { ...req, method: options.method ?? "GET", path: n.path, headers: { ...(req.headers as object), ...n.headers } };
              },
            },
          ],
        }
      : {}),
  } as autocannon.Options);
  const self = process.cpuUsage(selfBefore);
  const usageAfter = await server.cpuUsage();
  const machineAfter = machineTicks();
  const serverTicks = processCpuTicks(server.pid) - cpuBefore;
  const pgTicks = postgresTicks() - pgBefore;
  const totalTicks = machineAfter.total - machineBefore.total;
  const busyTicks = machineAfter.busy - machineBefore.busy;
  const loadgenTicks = ((self.user + self.system) / 1e6) * TICKS;
  const pct = (t: number) => Math.round((100 * t) / Math.max(totalTicks, 1));
  const requests = result.requests.total;
  return {
    requests,
    seconds: result.duration,
    rps: Math.round(requests / result.duration),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpu: { server: pct(serverTicks), loadgen: pct(loadgenTicks), postgres: pct(pgTicks), other: pct(Math.max(busyTicks - serverTicks - loadgenTicks - pgTicks, 0)), idle: pct(totalTicks - busyTicks) },
    serverCpuMsPerReq: Number(((serverTicks * (1000 / TICKS)) / Math.max(requests, 1)).toFixed(3)),
    ...(usageBefore !== undefined && usageAfter !== undefined ? { serverCpuUsageMsPerReq: Number(((usageAfter - usageBefore) / 1000 / Math.max(requests, 1)).toFixed(4)) } : {}),
    postgresCpuMsPerReq: Number(((pgTicks * (1000 / TICKS)) / Math.max(requests, 1)).toFixed(3)),
  };
}

/** Waits until others leave the cores alone (busy ≤ maxBusy % while we send nothing). */
export async function waitQuiet(label: string, opts: { maxWaitSeconds: number; maxBusy: number; say: (line: string) => void }): Promise<number> {
  const deadline = Date.now() + opts.maxWaitSeconds * 1000;
  let busy = await machineBusy();
  let told = false;
  while (busy > opts.maxBusy && Date.now() < deadline) {
    if (!told) opts.say(`  (machine ${busy} % busy with other work before ${label}: waiting up to ${opts.maxWaitSeconds} s for it to calm down)`);
    told = true;
    busy = await machineBusy(5000);
  }
  if (busy > opts.maxBusy) opts.say(`  (still ${busy} % busy: measuring ${label} anyway; its figures are disturbed)`);
  return busy;
}
