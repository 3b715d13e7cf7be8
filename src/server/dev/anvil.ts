import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import type { Hex } from "viem";

/** anvil's default mnemonic; its accounts are public knowledge and funded with 10,000 ETH. */
export const ANVIL_DEV_MNEMONIC = "test test test test test test test test test test test junk";

/**
 * Private keys of the first 10 accounts of ANVIL_DEV_MNEMONIC (m/44'/60'/0'/0/i).
 * Public knowledge: only ever use them on local chains. test/chain.test.ts checks them against
 * viem's mnemonicToAccount.
 */
export const ANVIL_DEV_PRIVATE_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const satisfies readonly Hex[];

export interface StartAnvilOptions {
  /** Omit for a free port chosen by the OS (anvil --port 0). */
  port?: number;
  /** Interval mining. Omit for automine (a block per transaction, instantly). */
  blockTimeSeconds?: number;
  /** With blockTimeSeconds: also mine each transaction at once, so blocks come both ways. */
  mixedMining?: boolean;
  /** Defaults to 31337. */
  chainId?: number;
  /** How long to wait for the node to answer eth_chainId. Defaults to 15 s. */
  startupTimeoutMs?: number;
  /** Load chain state from this file at start and write it back on exit (anvil --state). */
  stateFile?: string;
}

export interface RunningAnvil {
  rpcUrl: string;
  stop(): Promise<void>;
}

// The line end matters: a chunk may end mid-number ("…:3332" of port 33329).
const LISTENING_LINE = /Listening on ([\d.]+):(\d+)\r?\n/;
const OUTPUT_TAIL_CHARS = 4_000;

function anvilArgs(options: StartAnvilOptions, port: number): string[] {
  const args = [
    "--host", "127.0.0.1",
    "--port", String(port),
    "--chain-id", String(options.chainId ?? 31337),
    "--mnemonic", ANVIL_DEV_MNEMONIC,
    "--accounts", "10",
  ];
  if (options.blockTimeSeconds !== undefined) args.push("--block-time", String(options.blockTimeSeconds));
  if (options.mixedMining) args.push("--mixed-mining");
  if (options.stateFile !== undefined) args.push("--state", options.stateFile, "--state-interval", "5");
  return args;
}

export async function startAnvil(options: StartAnvilOptions = {}): Promise<RunningAnvil> {
  const chainId = options.chainId ?? 31337;
  const startupTimeoutMs = options.startupTimeoutMs ?? 15_000;
  const binaryPath = resolveAnvilBinary();
  const args = anvilArgs(options, options.port ?? 0);

  const child = spawn(binaryPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  registerForExitCleanup(child);

  // anvil logs every RPC call to stdout; it must always be drained or the pipe fills up and
  // anvil blocks. Only a tail is kept, for error messages.
  let outputTail = "";
  let resolvePort: (port: number) => void = () => {};
  const portAnnounced = new Promise<number>((resolve) => (resolvePort = resolve));
  const collect = (chunk: Buffer) => {
    outputTail = (outputTail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
    const match = LISTENING_LINE.exec(outputTail);
    if (match?.[2]) resolvePort(Number(match[2]));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const exitedEarly = new Promise<never>((_, reject) => {
    child.once("error", (error) => reject(new Error(`anvil failed to spawn (${binaryPath}): ${error.message}`)));
    child.once("exit", (code, signal) =>
      reject(new Error(`anvil exited during startup (code ${code}, signal ${signal}):\n${outputTail}`)),
    );
  });
  exitedEarly.catch(() => {}); // observed below; avoid an unhandled rejection after a successful start

  const stop = () => stopChild(child);
  const deadline = Date.now() + startupTimeoutMs;
  try {
    const port = await withTimeout(
      Promise.race([portAnnounced, exitedEarly]),
      startupTimeoutMs,
      () => `anvil did not report a listening port within ${startupTimeoutMs} ms:\n${outputTail}`,
    );
    const rpcUrl = `http://127.0.0.1:${port}`;
    await Promise.race([waitForChainId(rpcUrl, chainId, deadline, () => child.exitCode !== null || child.signalCode !== null), exitedEarly]);
    return { rpcUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface DurableAnvilOptions extends Omit<StartAnvilOptions, "stateFile"> {
  /** Holds anvil.json (pid and port), anvil.log and the state file anvil-state.json. */
  dataDir: string;
}

export interface DurableAnvil extends RunningAnvil {
  /** True when the chain was already running (the app died, or restarted, without stopping it). */
  reused: boolean;
  pid: number;
}

/**
 * The embedded dev chain, run so that the app's death does not take it down: anvil gets a session
 * of its own (a signal to the app's process group, a crash, a SIGKILL never reach it), writes to
 * $dataDir/anvil.log, and its pid and port sit in $dataDir/anvil.json. The next start finds it
 * still running and uses it, so no mined block is lost; only stop() (the app's own shutdown on
 * Ctrl-C or SIGTERM) ends it, after anvil has written its state file for a cold start later.
 */
export async function startDurableAnvil(options: DurableAnvilOptions): Promise<DurableAnvil> {
  const chainId = options.chainId ?? 31337;
  const infoFile = path.join(options.dataDir, "anvil.json");
  const previous = readDurableAnvilInfo(infoFile);
  if (previous && isProcessRunning(previous.pid)) {
    const rpcUrl = `http://127.0.0.1:${previous.port}`;
    try {
      await waitForChainId(rpcUrl, chainId, Date.now() + 2_000, () => !isProcessRunning(previous.pid));
      return { rpcUrl, pid: previous.pid, reused: true, stop: () => stopDurableAnvil(infoFile, previous.pid) };
    } catch {
      // Alive but not the chain we want (or wedged): replace it.
      await stopDurableAnvil(infoFile, previous.pid);
    }
  }
  const port = options.port || (await freePort());
  const args = [...anvilArgs({ ...options, stateFile: path.join(options.dataDir, "anvil-state.json") }, port), "--quiet"];
  const logFd = openSync(path.join(options.dataDir, "anvil.log"), "a");
  const child = spawn(resolveAnvilBinary(), args, { detached: true, stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error("anvil failed to spawn");
  writeFileSync(infoFile, JSON.stringify({ pid, port }));
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForChainId(rpcUrl, chainId, Date.now() + (options.startupTimeoutMs ?? 15_000), () => !isProcessRunning(pid));
  } catch (error) {
    await stopDurableAnvil(infoFile, pid);
    const log = readFileSync(path.join(options.dataDir, "anvil.log"), "utf8").slice(-OUTPUT_TAIL_CHARS);
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return { rpcUrl, pid, reused: false, stop: () => stopDurableAnvil(infoFile, pid) };
}

function readDurableAnvilInfo(file: string): { pid: number; port: number } | undefined {
  try {
    const info = JSON.parse(readFileSync(file, "utf8")) as { pid?: unknown; port?: unknown };
    return Number.isInteger(info.pid) && Number.isInteger(info.port) ? { pid: info.pid as number, port: info.port as number } : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM (anvil writes its state file), SIGKILL after 5 s; then the info file goes. */
async function stopDurableAnvil(infoFile: string, pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 5_000;
    while (isProcessRunning(pid) && Date.now() < deadline) await sleep(50);
    if (isProcessRunning(pid)) process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
  rmSync(infoFile, { force: true });
}

function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by whoever inherited it) is not running.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function resolveAnvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const packageName = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const binaryName = process.platform === "win32" ? "anvil.exe" : "anvil";
  let packageDir: string;
  try {
    packageDir = path.dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`));
  } catch {
    throw new Error(
      `anvil binary package ${packageName} is not installed. It is an optional dependency of ` +
        `@foundry-rs/anvil, published for linux/darwin x64/arm64 and win32 x64; run npm install ` +
        `on this machine (platform ${process.platform}, arch ${process.arch}).`,
    );
  }
  const binaryPath = path.join(packageDir, "bin", binaryName);
  if (!existsSync(binaryPath)) throw new Error(`${packageName} is installed but ${binaryPath} is missing`);
  return binaryPath;
}

async function waitForChainId(
  rpcUrl: string,
  expectedChainId: number,
  deadline: number,
  hasExited: () => boolean,
): Promise<void> {
  let lastError: unknown;
  // hasExited: the caller reports the exit itself; this loop just stops polling a dead port.
  while (Date.now() < deadline && !hasExited()) {
    try {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(Math.max(1, Math.min(1_000, deadline - Date.now()))),
      });
      const body = (await response.json()) as { result?: string };
      if (typeof body.result === "string") {
        const reportedChainId = Number(BigInt(body.result));
        if (reportedChainId !== expectedChainId) {
          throw new ChainIdMismatchError(
            `anvil at ${rpcUrl} reports chain id ${reportedChainId}, expected ${expectedChainId}`,
          );
        }
        return;
      }
      lastError = new Error(`unexpected eth_chainId response: ${JSON.stringify(body)}`);
    } catch (error) {
      if (error instanceof ChainIdMismatchError) throw error;
      lastError = error; // not listening yet
    }
    await sleep(25);
  }
  throw new Error(`anvil at ${rpcUrl} did not answer eth_chainId in time: ${String(lastError)}`);
}

class ChainIdMismatchError extends Error {}

async function stopChild(child: ChildProcess): Promise<void> {
  unregisterFromExitCleanup(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killTimer = setTimeout(() => child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(killTimer);
}

// Children are tracked on globalThis because Next may evaluate this module more than once in one
// process, and the process-level hooks must be installed only once.
interface AnvilExitRegistry {
  children: Set<ChildProcess>;
}
const REGISTRY_KEY = Symbol.for("agent-market.anvil-exit-registry");
type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: AnvilExitRegistry };

function exitRegistry(): AnvilExitRegistry {
  const globalObject = globalThis as GlobalWithRegistry;
  const existing = globalObject[REGISTRY_KEY];
  if (existing) return existing;

  const registry: AnvilExitRegistry = { children: new Set() };
  globalObject[REGISTRY_KEY] = registry;
  const killAll = () => {
    for (const child of registry.children) child.kill("SIGKILL");
    registry.children.clear();
  };
  // 'exit' covers normal ends and process.exit(); signals end the process without 'exit'.
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      // Someone else (the start script) handles this signal: it stops anvil gracefully, so
      // anvil can write its state file; killing it here would lose the latest blocks.
      if (process.listenerCount(signal) > 1) return;
      killAll();
      // Listening to a signal disables Node's default "terminate"; restore it.
      {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
  return registry;
}

function registerForExitCleanup(child: ChildProcess): void {
  const registry = exitRegistry();
  registry.children.add(child);
  child.once("exit", () => registry.children.delete(child));
}

function unregisterFromExitCleanup(child: ChildProcess): void {
  exitRegistry().children.delete(child);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
