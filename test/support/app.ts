import { spawn, type ChildProcess } from "node:child_process";
import type { Server } from "node:http";
import path from "node:path";
import { createPublicClient, createTestClient, createWalletClient, http, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { createTestDatabase } from "./database";
import { startChainFaultProxy } from "./chain-fault-proxy";
import { GENEROUS_RATE_LIMITS } from "./rate-limits";
import { ANVIL_DEV_PRIVATE_KEYS, startAnvil } from "~/server/dev/anvil";
import { deployTestUsdc, mintTestUsdc } from "~/server/chain/deploy-test-usdc";
import { usdcAbi } from "~/server/chain/usdc-contract";
import { parseUsdc } from "~/server/money";

export interface TestAppOptions {
  oracle?: { baseUrl: string; model: string };
  oracleTimeoutSeconds?: number;
  confirmations?: number;
  /** Agents made admins, through the admin service (what `npm run admin -- grant-agent` runs), when they register. */
  adminAgentIds?: string[];
  extraEnv?: Record<string, string>;
  /**
   * Run the server and the background runner in a child process (test/support/app-child.ts)
   * instead of this one, so the test can kill it as a crash would (`crash()`) and `restart()` it.
   */
  appProcess?: boolean;
  /**
   * With `appProcess`: the app reaches the chain through a proxy the test can break
   * (`chainFaults.setFault("down" | "slow" | "flaky" | "none")`); the test's own clients do not.
   */
  chainFaults?: boolean;
}

export { GENEROUS_RATE_LIMITS } from "./rate-limits";

export interface RegisteredAgent {
  agentId: string;
  apiKey: string;
  wallet?: Address;
}

/**
 * The whole app on real parts for one test file: its own Postgres database, its own anvil with
 * a freshly deployed USDC, pg-boss workers, and the same HTTP server `npm start` runs (without
 * the Next page handler). Agents talk to it over HTTP.
 */
export async function startTestApp(options: TestAppOptions = {}) {
  const database = await createTestDatabase();
  // Blocks come with every transaction and every 0.2 s, as on a live chain: outgoing transfers
  // become final (CONFIRMATIONS deep) by themselves, deposits still need tests to mine.
  const anvil = await startAnvil({ blockTimeSeconds: 0.2, mixedMining: true });
  const keys = ANVIL_DEV_PRIVATE_KEYS;
  const deployerKey = keys[0] as Hex;
  const opsKey = keys[1] as Hex;
  const treasury = privateKeyToAccount(keys[2] as Hex).address;
  const faucetKey = keys[9] as Hex;
  const usdcAddress = await deployTestUsdc({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: deployerKey });

  Object.assign(process.env, {
    NODE_ENV: "test",
    DATABASE_URL: database.databaseUrl,
    CHAIN_RPC_URL: anvil.rpcUrl,
    CHAIN_ID: "31337",
    USDC_ADDRESS: usdcAddress,
    OPS_PRIVATE_KEY: opsKey,
    TREASURY_ADDRESS: treasury,
    FAUCET_PRIVATE_KEY: faucetKey,
    CONFIRMATIONS: String(options.confirmations ?? 12),
    MIN_TASK_AMOUNT: "1",
    PLATFORM_FEE_BPS: "2000",
    ORACLE_BASE_URL: options.oracle?.baseUrl ?? "",
    ORACLE_MODEL: options.oracle?.model ?? "",
    ORACLE_TIMEOUT_SECONDS: String(options.oracleTimeoutSeconds ?? 120),
    // Blanked: a developer's shell must not stop the test app (these are refused at start-up).
    ADMIN_AGENT_IDS: "",
    ADMIN_OWNER_EMAILS: "",
    EMBEDDED_PARTS: "chain",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // The limiter runs in every test (on this file's database), with budgets no suite reaches;
    // test/rate-limits.test.ts passes the defaults back through extraEnv.
    ...GENEROUS_RATE_LIMITS,
    REDIS_URL: "",
    RATE_LIMIT_STORE: "",
    TRUST_PROXY: "0",
    ...options.extraEnv,
  });

  const { resetEnv } = await import("~/env");
  const { resetChain } = await import("~/server/chain/chain");
  resetEnv();
  resetChain();
  const { startPgBossRunner } = await import("~/server/jobs/pg-boss-runner");
  const { createAppServer, listen } = await import("~/server/http/app-server");
  const { closeDb, getDb } = await import("~/server/db");
  const chainFaults = options.chainFaults ? await startChainFaultProxy(anvil.rpcUrl) : undefined;
  let runner = options.appProcess ? undefined : await startPgBossRunner({ databaseUrl: database.databaseUrl });
  let server: Server | undefined;
  let child: ChildProcess | undefined;
  let baseUrl: string;
  const appEnv: Record<string, string> = chainFaults ? { CHAIN_RPC_URL: chainFaults.url } : {};
  if (options.appProcess) {
    ({ child, baseUrl } = await startAppProcess(appEnv));
  } else {
    server = createAppServer();
    baseUrl = `http://127.0.0.1:${await listen(server, 0, "127.0.0.1")}`;
  }

  const publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl), cacheTime: 0 });
  let blockTimer: NodeJS.Timeout | undefined;
  const testClient = createTestClient({ chain: foundry, mode: "anvil", transport: http(anvil.rpcUrl) });

  async function api(method: string, urlPath: string, opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${baseUrl}/api/v1${urlPath}`, {
      method,
      headers: {
        ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(opts.key ? { Authorization: `Bearer ${opts.key}` } : {}),
        ...opts.headers,
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
    const text = await res.text();
    let body: any = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: res.status, body, headers: res.headers };
  }

  /**
   * Proves that the agent controls the wallet of `privateKey` the way a client does: asks for
   * the challenge, signs it with the key, posts the signature.
   */
  async function proveWallet(agent: { agentId: string; apiKey: string }, privateKey: Hex) {
    const account = privateKeyToAccount(privateKey);
    const challenge = await api("POST", `/agents/${agent.agentId}/wallet/challenge`, { key: agent.apiKey, body: { wallet_address: account.address } });
    if (challenge.status !== 200) throw new Error(`wallet challenge for ${agent.agentId}: ${challenge.status} ${JSON.stringify(challenge.body)}`);
    const signature = await account.signMessage({ message: challenge.body.message });
    const proven = await api("POST", `/agents/${agent.agentId}/wallet`, { key: agent.apiKey, body: { message: challenge.body.message, signature } });
    if (proven.status !== 200) throw new Error(`prove wallet of ${agent.agentId}: ${proven.status} ${JSON.stringify(proven.body)}`);
    return proven.body;
  }

  return {
    get baseUrl() {
      return baseUrl;
    },
    usdcAddress,
    treasury,
    opsAddress: privateKeyToAccount(opsKey).address,
    /** The operations wallet's key, for tests that move its USDC behind the app's back. */
    opsKey,
    db: getDb(),
    api,
    publicClient,
    /** anvil's test actions: mining control, snapshots, base fee. */
    testClient,
    rpcUrl: anvil.rpcUrl,

    /** Gives an address ETH for gas. */
    async fundGas(address: Address) {
      await testClient.setBalance({ address, value: 10n ** 20n });
    },

    proveWallet,

    /**
     * Registers an agent; with `wallet: true` it gets an anvil account holding ETH for gas, and
     * proves it controls it (so it can fund jobs). A wallet given as an address is only set (unproven).
     */
    async registerAgent(agentId: string, opts: { wallet?: boolean | Address } = {}): Promise<RegisteredAgent & { privateKey?: Hex }> {
      let wallet: Address | undefined;
      let privateKey: Hex | undefined;
      if (opts.wallet === true) {
        // A fresh key with ETH for gas, so tests never run out of funded accounts.
        privateKey = generatePrivateKey();
        wallet = privateKeyToAccount(privateKey).address;
        await testClient.setBalance({ address: wallet, value: 10n ** 20n });
      } else if (typeof opts.wallet === "string") {
        wallet = opts.wallet;
      }
      const res = await api("POST", "/agents", { body: { agent_id: agentId, name: agentId, ...(wallet ? { wallet_address: wallet } : {}) } });
      if (res.status !== 201) throw new Error(`register ${agentId}: ${res.status} ${JSON.stringify(res.body)}`);
      const agent = { agentId, apiKey: res.body.api_key as string, wallet, privateKey };
      if (privateKey) await proveWallet(agent, privateKey);
      if (options.adminAgentIds?.includes(agentId)) {
        const { setAgentAdmin } = await import("~/server/services/admins/manage-admins");
        await setAgentAdmin({ db: getDb(), agentId, change: "grant" });
      }
      return agent;
    },

    async mintUsdc(to: Address, amount: string) {
      await mintTestUsdc({ rpcUrl: anvil.rpcUrl, usdcAddress, minterPrivateKey: faucetKey, to, amount: parseUsdc(amount) });
    },

    /** A real ERC-20 transfer signed by `fromKey`; returns its hash once mined. */
    async transferUsdc(fromKey: Hex, to: Address, amount: string): Promise<Hex> {
      const account = privateKeyToAccount(fromKey);
      const wallet = createWalletClient({ account, chain: foundry, transport: http(anvil.rpcUrl) });
      const hash = await wallet.writeContract({ address: usdcAddress, abi: usdcAbi, functionName: "transfer", args: [to, parseUsdc(amount)] });
      await publicClient.waitForTransactionReceipt({ hash });
      return hash;
    },

    async mine(blocks: number) {
      await testClient.mine({ blocks });
    },

    /**
     * The chain stops making blocks by itself: only when the test mines, and with each
     * transaction unless `automine` is false (then transactions wait in the mempool).
     */
    async manualBlocks({ automine = true }: { automine?: boolean } = {}) {
      clearInterval(blockTimer);
      blockTimer = undefined;
      await testClient.setIntervalMining({ interval: 0 });
      await testClient.setAutomine(automine);
    },

    /** Blocks by themselves again: with each transaction and every 200 ms (as at the start). */
    async autoBlocks() {
      await testClient.setAutomine(true);
      // anvil's RPC takes whole seconds for interval mining, so the test mines the 200 ms blocks.
      blockTimer ??= setInterval(() => void testClient.mine({ blocks: 1 }).catch(() => undefined), 200);
    },

    async balanceOf(address: Address): Promise<bigint> {
      return publicClient.readContract({ address: usdcAddress, abi: usdcAbi, functionName: "balanceOf", args: [address] });
    },

    async waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 40_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await fn();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    /** Stops the background runner, as a crash would, and returns a function that starts it again. */
    async stopRunner() {
      await runner!.stop();
      return async () => {
        runner = await startPgBossRunner({ databaseUrl: database.databaseUrl });
      };
    },

    /** With `appProcess`: SIGKILL the app's process, mid-whatever it was doing. */
    async crash() {
      await killProcess(child!);
      child = undefined;
    },

    /** With `appProcess`: start the app again on the same database, chain and port. */
    async restart() {
      ({ child, baseUrl } = await startAppProcess({ ...appEnv, APP_PORT: new URL(baseUrl).port }));
    },

    /** With `appProcess`: is the app's process running? */
    get appRunning() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },

    chainFaults,

    async stop() {
      clearInterval(blockTimer);
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeAllConnections?.();
      }
      if (child) await killProcess(child);
      await chainFaults?.close();
      await runner?.stop();
      await (await import("~/server/rate-limit/limiter")).closeRateLimiter();
      await closeDb();
      await (await import("~/server/process-presence")).stopProcessPresence();
      await (await import("~/server/db-sql")).closeSqlPool();
      await anvil.stop();
      await database.drop();
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>;

const APP_CHILD_SCRIPT = path.join(import.meta.dirname, "app-child.ts");
const REPO_ROOT = path.join(import.meta.dirname, "..", "..");

/** The app in a child process with this process's (prepared) environment; resolves once it listens. */
function startAppProcess(extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; baseUrl: string }> {
  // One node process (tsx as a loader, not its CLI, which would run the app in a grandchild that
  // a SIGKILL would miss).
  const child = spawn(process.execPath, ["--import", "tsx", APP_CHILD_SCRIPT], { cwd: REPO_ROOT, env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`app process did not start in 30 s:\n${output}`)), 30_000);
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
      const match = /LISTENING (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, baseUrl: `http://127.0.0.1:${match[1]}` });
      }
    };
    child.stdout!.on("data", (chunk: Buffer) => {
      collect(chunk);
      if (process.env.TEST_APP_OUTPUT) process.stdout.write(chunk);
    });
    // Drained always (a full pipe would stall the app); echoed so failures show the app's log.
    child.stderr!.on("data", (chunk: Buffer) => {
      collect(chunk);
      process.stderr.write(chunk);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`app process exited (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}

async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}
