// `npm start`: the whole app in one process. Whatever is not configured is started here on
// embedded defaults (Postgres in ./.data, a local anvil chain with test USDC, manual oracle),
// then migrations are applied, the background runner starts and the HTTP server listens.
import "dotenv/config";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const root = process.cwd();
const devServer = process.argv.includes("--dev");
const dataDir = path.resolve(root, process.env.DATA_DIR ?? ".data");
const embedded: string[] = [];

function banner(lines: string[]) {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = "!".repeat(width);
  console.warn(`\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join("\n")}\n${bar}\n`);
}

async function startEmbeddedDatabase() {
  const { startEmbeddedPostgres } = await import("~/server/dev/embedded-postgres");
  const pgDir = path.join(dataDir, "postgres");
  const pg = await startEmbeddedPostgres({ dataDir: pgDir, port: Number(process.env.EMBEDDED_PG_PORT ?? 5488) });
  // As root the cluster may live elsewhere (embeddedPostgresDataDir): say where.
  if (pg.dataDir !== pgDir) console.log(`Embedded Postgres data in ${pg.dataDir} (${dataDir} is not reachable by the postgres user)`);
  process.env.DATABASE_URL = pg.databaseUrl;
  embedded.push("postgres");
  return pg;
}

async function startEmbeddedChain() {
  const { startDurableAnvil, ANVIL_DEV_PRIVATE_KEYS } = await import("~/server/dev/anvil");
  const { deployTestUsdc } = await import("~/server/chain/deploy-test-usdc");
  await fs.mkdir(dataDir, { recursive: true });
  // Outlives this process if it crashes (no mined block is lost); the next start uses it again.
  const anvil = await startDurableAnvil({ dataDir, port: Number(process.env.EMBEDDED_CHAIN_PORT ?? 8545), blockTimeSeconds: 1 });
  if (anvil.reused) console.log(`Local chain still running from the last start (pid ${anvil.pid}); using it`);
  const keys = ANVIL_DEV_PRIVATE_KEYS as readonly Hex[];
  // The chain state survives restarts (anvil --state), so reuse the contract when it is there.
  const chainFile = path.join(dataDir, "chain.json");
  const client = createPublicClient({ transport: http(anvil.rpcUrl) });
  let usdc: Address | undefined;
  if (existsSync(chainFile)) {
    const saved = JSON.parse(await fs.readFile(chainFile, "utf8")) as { usdcAddress: Address };
    const code = await client.getCode({ address: saved.usdcAddress }).catch(() => undefined);
    if (code && code !== "0x") usdc = saved.usdcAddress;
  }
  if (!usdc) {
    usdc = await deployTestUsdc({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: keys[0]! });
    await fs.writeFile(chainFile, JSON.stringify({ usdcAddress: usdc }, null, 2));
  }
  Object.assign(process.env, {
    CHAIN_RPC_URL: anvil.rpcUrl,
    CHAIN_ID: "31337",
    USDC_ADDRESS: usdc,
    OPS_PRIVATE_KEY: keys[1],
    TREASURY_ADDRESS: privateKeyToAccount(keys[2]!).address,
    FAUCET_PRIVATE_KEY: keys[9],
  });
  embedded.push("chain");
  return anvil;
}

async function main() {
  const stops: Array<() => Promise<void>> = [];
  const embeddedPostgres = process.env.DATABASE_URL ? undefined : await startEmbeddedDatabase();
  if (embeddedPostgres) stops.push(embeddedPostgres.stop);
  if (!process.env.CHAIN_RPC_URL) stops.push((await startEmbeddedChain()).stop);
  process.env.EMBEDDED_PARTS = embedded.join(",");
  if (!process.env.NEXTAUTH_SECRET && embedded.length > 0) {
    // Dev mode: a random session secret kept with the embedded data, never a shared default.
    const secretFile = path.join(dataDir, "nextauth-secret");
    await fs.mkdir(dataDir, { recursive: true });
    if (!existsSync(secretFile)) {
      const { randomBytes } = await import("node:crypto");
      await fs.writeFile(secretFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
    }
    process.env.NEXTAUTH_SECRET = (await fs.readFile(secretFile, "utf8")).trim();
  }
  // next-auth builds its redirect URLs from the request's host unless NEXTAUTH_URL pins one.
  process.env.AUTH_TRUST_HOST ??= "true";
  (process.env as Record<string, string>).NODE_ENV ??= devServer ? "development" : "production";

  const { getEnv, EnvError } = await import("~/env");
  let env;
  try {
    env = getEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }

  const { applyMigrations } = await import("~/server/db/migrations");
  const { applied } = await applyMigrations(env.DATABASE_URL);
  if (applied.length) console.log(`Applied migrations: ${applied.join(", ")}`);

  if (env.devMode) {
    banner([
      "DEV MODE — not for real money",
      `embedded: ${embedded.join(", ") || "(none)"}${env.oracleMode === "manual" ? ", manual oracle (no model configured)" : ""}`,
      ...(env.chainEmbedded ? [`local chain ${env.CHAIN_RPC_URL}, test USDC ${env.USDC_ADDRESS}`, "mint test USDC: POST /api/v1/dev/faucet {address, amount}"] : []),
      ...(embeddedPostgres ? [`embedded Postgres data in ${embeddedPostgres.dataDir.startsWith(`${root}/`) ? path.relative(root, embeddedPostgres.dataDir) : embeddedPostgres.dataDir}`] : []),
    ]);
  }

  if (!env.inngestEnabled) {
    const { startPgBossRunner } = await import("~/server/jobs/pg-boss-runner");
    const runner = await startPgBossRunner({ databaseUrl: env.DATABASE_URL });
    stops.unshift(runner.stop);
  } else {
    const { setDispatcher } = await import("~/server/jobs/client");
    const { inngestDispatcher } = await import("~/server/jobs/inngest");
    setDispatcher(inngestDispatcher);
  }
  // Stop order: workers, then the database pool, then the embedded parts they talk to.
  const { closeDb } = await import("~/server/db");
  const { closeSqlPool } = await import("~/server/db-sql");
  const { closeRateLimiter } = await import("~/server/rate-limit/limiter");
  // This process's sign of life (work leases and idempotency keys it holds are taken over at once
  // once it is gone); the pg-boss runner has opened it already.
  const { startProcessPresence } = await import("~/server/process-presence");
  const presence = await startProcessPresence(env.DATABASE_URL);
  stops.splice(env.inngestEnabled ? 0 : 1, 0, closeRateLimiter, closeDb, closeSqlPool, presence.stop);
  console.log(
    env.rateLimitStore === "off"
      ? "Rate limits: OFF (RATE_LIMIT_STORE=off)"
      : `Rate limits: counted in ${env.rateLimitStore === "postgres" ? "Postgres (table rate_limits)" : env.rateLimitStore === "redis" ? "Redis (REDIS_URL)" : "this process only (memory)"}; ` +
          `per key ${env.RATE_LIMIT_READS_PER_MINUTE} reads, ${env.RATE_LIMIT_WRITES_PER_MINUTE} writes, ${env.RATE_LIMIT_SUBMISSIONS_PER_MINUTE} submissions a minute; ` +
          `client address from ${env.TRUST_PROXY > 0 ? `X-Forwarded-For (${env.TRUST_PROXY} trusted prox${env.TRUST_PROXY === 1 ? "y" : "ies"})` : "the socket"}`,
  );

  if (!devServer && !existsSync(path.join(root, ".next", "BUILD_ID"))) {
    console.log("No production build found: running `next build` once…");
    const build = spawnSync(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], { stdio: "inherit", cwd: root });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
  const next = (await import("next")).default;
  const nextApp = next({ dev: devServer, dir: root, hostname: "localhost", port: env.PORT });
  await nextApp.prepare();
  const handle = nextApp.getRequestHandler();
  const { createAppServer, listen } = await import("~/server/http/app-server");
  const server = createAppServer({ pageHandler: (req, res) => handle(req, res) });
  const port = await listen(server, env.PORT);
  console.log(`Agent Market listening on http://localhost:${port} (API: /api/v1, reference: /api/v1/docs)`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    for (const stop of stops) await stop().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
