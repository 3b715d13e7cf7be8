import type { Server } from "node:http";
import { createPublicClient, createTestClient, createWalletClient, http, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { createTestDatabase } from "./database";
import { ANVIL_DEV_PRIVATE_KEYS, startAnvil } from "~/server/dev/anvil";
import { deployTestUsdc, mintTestUsdc } from "~/server/chain/deploy-test-usdc";
import { usdcAbi } from "~/server/chain/usdc-contract";
import { parseUsdc } from "~/server/money";

export interface TestAppOptions {
  oracle?: { baseUrl: string; model: string };
  oracleTimeoutSeconds?: number;
  confirmations?: number;
  adminAgentIds?: string[];
  extraEnv?: Record<string, string>;
}

/** Budgets far above what any suite sends from one key or address in a minute (or an hour). */
export const GENEROUS_RATE_LIMITS = {
  RATE_LIMIT_READS_PER_MINUTE: "100000",
  RATE_LIMIT_WRITES_PER_MINUTE: "100000",
  RATE_LIMIT_SUBMISSIONS_PER_MINUTE: "100000",
  RATE_LIMIT_OWNER_READS_PER_MINUTE: "100000",
  RATE_LIMIT_OWNER_WRITES_PER_MINUTE: "100000",
  RATE_LIMIT_ADDRESS_PER_MINUTE: "100000",
  RATE_LIMIT_SIGNUPS_PER_HOUR: "100000",
  RATE_LIMIT_FAUCET_PER_HOUR: "100000",
};

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
  const anvil = await startAnvil();
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
    ADMIN_AGENT_IDS: (options.adminAgentIds ?? []).join(","),
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
  let runner = await startPgBossRunner({ databaseUrl: database.databaseUrl });
  const server: Server = createAppServer();
  const port = await listen(server, 0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${port}`;

  const publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl), cacheTime: 0 });
  const testClient = createTestClient({ chain: foundry, mode: "anvil", transport: http(anvil.rpcUrl) });

  async function api(method: string, path: string, opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
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

  return {
    baseUrl,
    usdcAddress,
    treasury,
    opsAddress: privateKeyToAccount(opsKey).address,
    /** The operations wallet's key, for tests that move its USDC behind the app's back. */
    opsKey,
    db: getDb(),
    api,
    publicClient,

    /** Registers an agent; with `wallet: true` it gets an anvil account holding ETH for gas. */
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
      return { agentId, apiKey: res.body.api_key, wallet, privateKey };
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

    async balanceOf(address: Address): Promise<bigint> {
      return publicClient.readContract({ address: usdcAddress, abi: usdcAbi, functionName: "balanceOf", args: [address] });
    },

    async waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
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
      await runner.stop();
      return async () => {
        runner = await startPgBossRunner({ databaseUrl: database.databaseUrl });
      };
    },

    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await runner.stop();
      await (await import("~/server/rate-limit/limiter")).closeRateLimiter();
      await closeDb();
      await (await import("~/server/db-sql")).closeSqlPool();
      await anvil.stop();
      await database.drop();
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>;
