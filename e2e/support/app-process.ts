// Starts and stops the real app (`tsx scripts/start.ts`, what `npm start` runs) for the e2e run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { embeddedDatabaseUrl } from "../../src/server/dev/embedded-postgres";
import { GENEROUS_RATE_LIMITS } from "../../test/support/rate-limits";

export interface MarketAppOptions {
  /** The repository root: where scripts/start.ts and .next live. */
  rootDir: string;
  /** The judge model; without one the app runs the manual oracle (the quick start's default). */
  oracle?: { baseUrl: string; model: string };
  /** Covers a `next build` that start.ts runs itself when .next/BUILD_ID is missing. */
  startupTimeoutMs?: number;
}

export interface RunningMarketApp {
  baseUrl: string;
  dataDir: string;
  logFile: string;
  /** The app's embedded Postgres, for tests that act as an operator on the server would. */
  databaseUrl: string;
  /** Also the id of the process group of the app, embedded Postgres and anvil. */
  pid: number;
  /** Stops the whole process group; resolves with the processes that would not die. */
  stop(): Promise<string[]>;
}

const OUTPUT_TAIL_CHARS = 8_000;
const DATA_DIR_PREFIX = "e2e-";
const RUNNER_PID_FILE = "runner.pid";

export async function startMarketApp(options: MarketAppOptions): Promise<RunningMarketApp> {
  const { rootDir } = options;
  const startupTimeoutMs = options.startupTimeoutMs ?? 180_000;

  const dataParent = path.join(rootDir, ".data");
  // Under a restrictive umask a new .data would be closed to the `postgres` user (see below).
  if (await fs.mkdir(dataParent, { recursive: true })) await fs.chmod(dataParent, 0o755);
  await removeAbandonedDataDirs(dataParent);
  const dataDir = await fs.mkdtemp(path.join(dataParent, DATA_DIR_PREFIX));
  // mkdtemp makes the directory 0700, but as root embedded Postgres runs as the `postgres` user,
  // which must traverse it to reach $DATA_DIR/postgres.
  await fs.chmod(dataDir, 0o755);
  await fs.writeFile(path.join(dataDir, RUNNER_PID_FILE), String(process.pid));

  const [appPort, postgresPort, chainPort] = await findFreePorts(3);
  const logFile = path.join(dataDir, "app.log");
  // The app writes straight to the file (E2E_APP_LOG=1: to this terminal), never through a pipe
  // to the runner, so its output cannot stall or break when the runner is slow or gone.
  const logFd = openSync(logFile, "a");
  const output = process.env.E2E_APP_LOG === "1" ? "inherit" : logFd;

  const child = spawn(path.join(rootDir, "node_modules", ".bin", "tsx"), ["scripts/start.ts"], {
    cwd: rootDir,
    // Its own process group, so teardown can signal the app and everything it started at once.
    detached: true,
    stdio: ["ignore", output, output],
    env: appEnvironment({
      PORT: String(appPort),
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(postgresPort),
      EMBEDDED_CHAIN_PORT: String(chainPort),
      ORACLE_BASE_URL: options.oracle?.baseUrl ?? "",
      ORACLE_MODEL: options.oracle?.model ?? "",
      CONFIRMATIONS: "1",
      // USDC in that no POST /fund claims is drift after 5 s instead of an hour (e2e/ui/reconciliation.spec.ts).
      RECONCILIATION_DEPOSIT_GRACE_SECONDS: "5",
    }),
  });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error("could not spawn scripts/start.ts");
  const pid = child.pid;
  const outputTail = () => readTail(logFile, OUTPUT_TAIL_CHARS);

  // Last resorts when the runner ends without its teardown: an exit hook (crash, second Ctrl-C),
  // and a watchdog outside the runner for when it is SIGKILLed (a CI timeout).
  const killOnExit = () => signalGroup(pid, "SIGKILL");
  process.once("exit", killOnExit);
  const watchdog = startOrphanWatchdog(process.pid, pid);

  let stopping: Promise<string[]> | undefined;
  const stop = () => {
    stopping ??= stopProcessGroup(pid).finally(async () => {
      process.removeListener("exit", killOnExit);
      if (watchdog.pid !== undefined) signalGroup(watchdog.pid, "SIGKILL");
    });
    return stopping;
  };

  const baseUrl = `http://127.0.0.1:${appPort}`;
  try {
    await waitForHealthy(baseUrl, child, startupTimeoutMs, outputTail);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, dataDir, logFile, databaseUrl: embeddedDatabaseUrl(postgresPort!), pid, stop };
}

/**
 * Data directories of earlier runs that were killed before their teardown: their runner is gone
 * and so is their Postgres. Directories of runs still going (another checkout user, a parallel
 * run) are left alone.
 */
async function removeAbandonedDataDirs(dataParent: string): Promise<void> {
  for (const entry of await fs.readdir(dataParent, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(DATA_DIR_PREFIX)) continue;
    const dir = path.join(dataParent, entry.name);
    const runnerPid = Number(readTextFile(path.join(dir, RUNNER_PID_FILE)));
    // postmaster.pid's first line is the postmaster's pid; the file is gone after a clean stop.
    const postmasterPid = Number((readTextFile(path.join(dir, "postgres", "postmaster.pid")) ?? "").split("\n")[0]);
    const inUse = [runnerPid, postmasterPid].some((pid) => Number.isInteger(pid) && pid > 0 && isRunning(pid));
    if (!inUse && Number.isInteger(runnerPid) && runnerPid > 0) {
      // The embedded chain runs in a session of its own (it outlives an app crash): end it too.
      const anvilPid = Number(/"pid":(\d+)/.exec(readTextFile(path.join(dir, "anvil.json")) ?? "")?.[1]);
      if (Number.isInteger(anvilPid) && anvilPid > 0 && isRunning(anvilPid)) signalProcess(anvilPid, "SIGKILL");
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * The runner's environment minus whatever would make start.ts connect to something else than its
 * embedded parts. Empty values count as unset for start.ts and env.ts, and dotenv never replaces
 * a variable that exists, so a developer's .env cannot point the run at a real database or chain.
 */
function appEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    DATABASE_URL: "",
    CHAIN_RPC_URL: "",
    DEV_MODE: "",
    // Refused at start-up if set (admins come from `npm run admin`): blanked against a developer's .env.
    ADMIN_AGENT_IDS: "",
    ADMIN_OWNER_EMAILS: "",
    ORACLE_API_KEY: "",
    ORACLE_TIMEOUT_SECONDS: "30",
    INNGEST_EVENT_KEY: "",
    INNGEST_SIGNING_KEY: "",
    INNGEST_BASE_URL: "",
    // The limiter runs, with budgets no suite reaches from its one address and few keys.
    REDIS_URL: "",
    RATE_LIMIT_STORE: "",
    TRUST_PROXY: "0",
    ...GENEROUS_RATE_LIMITS,
    ...overrides,
  };
  // Playwright's own variables and loader hooks are for its workers, not for the app.
  for (const name of Object.keys(env)) {
    if (name === "NODE_OPTIONS" || name.startsWith("PW_") || name.startsWith("PLAYWRIGHT_")) delete env[name];
  }
  return env;
}

async function waitForHealthy(baseUrl: string, child: ChildProcess, timeoutMs: number, outputTail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the app exited during startup (code ${child.exitCode}, signal ${child.signalCode}):\n${outputTail()}`);
    }
    try {
      const response = await fetch(`${baseUrl}/api/v1/health`, { signal: AbortSignal.timeout(2_000) });
      const body = (await response.json().catch(() => ({}))) as { status?: string };
      if (response.ok && body.status === "ok") return;
      lastProblem = `HTTP ${response.status} ${JSON.stringify(body)}`;
    } catch (error) {
      lastProblem = String(error); // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`the app was not healthy at ${baseUrl}/api/v1/health within ${timeoutMs} ms (${lastProblem}):\n${outputTail()}`);
}

/**
 * A shell that outlives the runner (its own process group) and stops the app once the runner is
 * gone: SIGTERM to the app's group, SIGKILL 20 s later.
 */
function startOrphanWatchdog(runnerPid: number, appGroup: number): ChildProcess {
  // No "--" before the negative pid: dash's kill builtin rejects it.
  const script = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -TERM -"$1" 2>/dev/null; sleep 20; kill -KILL -"$1" 2>/dev/null';
  const watchdog = spawn("/bin/sh", ["-c", script, String(runnerPid), String(appGroup)], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return watchdog;
}

/**
 * SIGTERM to the group (start.ts then stops pg-boss, Postgres and anvil; those children get the
 * signal too and shut down on their own), SIGKILL to whatever is left after a grace period.
 * Postgres' own children (backends, checkpointer…) call setsid() and leave the group, so the
 * whole process tree is watched, not just the group.
 */
async function stopProcessGroup(pgid: number): Promise<string[]> {
  const watched = new Set(appProcesses(pgid));
  const alive = () => {
    const running = new Set(appProcesses(pgid));
    for (const pid of watched) if (isRunning(pid)) running.add(pid);
    return [...running];
  };
  if (alive().length === 0) return [];
  signalGroup(pgid, "SIGTERM");
  if (await waitUntilNone(alive, 20_000)) return [];
  console.warn(`[e2e] still running 20 s after SIGTERM, sending SIGKILL:\n  ${alive().map(describeProcess).join("\n  ")}`);
  signalGroup(pgid, "SIGKILL");
  for (const pid of alive()) signalProcess(pid, "SIGKILL");
  await waitUntilNone(alive, 5_000);
  return alive().map(describeProcess);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalProcess(-pgid, signal);
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function waitUntilNone(running: () => number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running().length === 0) return true;
    await sleep(100);
  }
  return running().length === 0;
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  pgrp: number;
}

/**
 * Live (non-zombie) members of the process group and all their descendants, from /proc.
 * `kill(-pgid, 0)` alone would count zombies (orphans are re-parented to this machine's init,
 * which does not always reap them) and miss children that left the group.
 */
export function appProcesses(pgid: number): number[] {
  if (!existsSync("/proc/self/stat")) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const entries = liveProcesses();
  const found = new Set(entries.filter((entry) => entry.pgrp === pgid).map((entry) => entry.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const entry of entries) {
      if (!found.has(entry.pid) && found.has(entry.ppid)) {
        found.add(entry.pid);
        grew = true;
      }
    }
  }
  return [...found];
}

function liveProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat && stat.state !== "Z") entries.push({ pid: Number(name), ppid: stat.ppid, pgrp: stat.pgrp });
  }
  return entries;
}

function isRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== "Z";
}

function readProcStat(pid: number): { state: string; ppid: number; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return null; // exited meanwhile
  }
}

function describeProcess(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim().slice(0, 160)}`;
  } catch {
    return String(pid);
  }
}

/** Distinct free ports: all listeners stay open until every port is known, so none repeats. */
async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * start.ts only builds when .next/BUILD_ID is missing; an outdated build would silently test old
 * pages, so rebuild when anything the build reads is newer than BUILD_ID.
 * E2E_BUILD=always|never overrides the check.
 */
export function ensureFreshBuild(rootDir: string): void {
  const mode = process.env.E2E_BUILD ?? "auto";
  if (mode === "never") return;
  const buildIdFile = path.join(rootDir, ".next", "BUILD_ID");
  const builtAt = existsSync(buildIdFile) ? statSync(buildIdFile).mtimeMs : 0;
  const inputs = ["src", "public", "next.config.mjs", "postcss.config.mjs", "tailwind.config.ts", "package-lock.json"];
  const stale = mode === "always" || builtAt === 0 || inputs.some((input) => newestMtime(path.join(rootDir, input)) > builtAt);
  if (!stale) return;
  console.log("[e2e] .next is missing or older than the sources: running `next build`…");
  const started = Date.now();
  const build = spawnSync(process.execPath, [path.join(rootDir, "node_modules", "next", "dist", "bin", "next"), "build"], {
    cwd: rootDir,
    stdio: "inherit",
    env: { ...process.env, NODE_OPTIONS: "", NODE_ENV: "production" },
  });
  if (build.status !== 0) throw new Error(`next build failed (exit ${build.status ?? build.signal})`);
  console.log(`[e2e] next build took ${Math.round((Date.now() - started) / 1000)} s`);
}

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stats = statSync(target);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    newest = Math.max(newest, newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

function readTail(file: string, chars: number): string {
  return (readTextFile(file) ?? "(no output)").slice(-chars);
}

function readTextFile(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
