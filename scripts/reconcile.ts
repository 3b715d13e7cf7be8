// `npm run reconcile [-- --json]`: books against chain, to the base unit (the same service as
// GET /admin/reconciliation). Prints the report and exits 0 when books and chain agree, 1 on
// drift, 2 when the check could not run. Read-only: it records no run and alerts nobody.
// Runs against DATABASE_URL and CHAIN_RPC_URL, or, when they are not set, against the quick
// start's embedded Postgres and dev chain in $DATA_DIR (adopting them when `npm start` is
// running, starting and stopping them otherwise).
import "dotenv/config";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const USAGE = `usage: npm run reconcile [-- --json]
  --json   print the whole report as JSON (the shape of GET /admin/reconciliation, every job)`;

const dataDir = path.resolve(process.cwd(), process.env.DATA_DIR ?? ".data");

async function openDatabase(): Promise<{ databaseUrl: string; release: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { databaseUrl: process.env.DATABASE_URL, release: async () => undefined };
  const { startEmbeddedPostgres } = await import("~/server/dev/embedded-postgres");
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "postgres"), port: Number(process.env.EMBEDDED_PG_PORT ?? 5488) });
  return { databaseUrl: cluster.databaseUrl, release: cluster.adopted ? async () => undefined : () => cluster.stop() };
}

/** The dev chain `npm start` runs (scripts/start.ts): its accounts and the USDC it deployed. */
async function openEmbeddedChain(): Promise<{ release: () => Promise<void> }> {
  const chainFile = path.join(dataDir, "chain.json");
  if (!existsSync(chainFile)) throw new Error(`CHAIN_RPC_URL is not set and there is no dev chain in ${dataDir} (run \`npm start\` once, or set CHAIN_RPC_URL)`);
  const { usdcAddress } = JSON.parse(readFileSync(chainFile, "utf8")) as { usdcAddress: string };
  const { startDurableAnvil, ANVIL_DEV_PRIVATE_KEYS } = await import("~/server/dev/anvil");
  const { privateKeyToAccount } = await import("viem/accounts");
  const anvil = await startDurableAnvil({ dataDir, port: Number(process.env.EMBEDDED_CHAIN_PORT ?? 8545), blockTimeSeconds: 1 });
  Object.assign(process.env, {
    CHAIN_RPC_URL: anvil.rpcUrl,
    CHAIN_ID: "31337",
    USDC_ADDRESS: usdcAddress,
    OPS_PRIVATE_KEY: ANVIL_DEV_PRIVATE_KEYS[1],
    TREASURY_ADDRESS: privateKeyToAccount(ANVIL_DEV_PRIVATE_KEYS[2]).address,
    EMBEDDED_PARTS: [process.env.EMBEDDED_PARTS, "chain"].filter(Boolean).join(","),
  });
  // A chain the app is running stays up; one started here is stopped again.
  return { release: anvil.reused ? async () => undefined : anvil.stop };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== "--json")) {
    console.error(USAGE);
    return 2;
  }
  const json = args.includes("--json");
  const releases: Array<() => Promise<void>> = [];
  let db;
  try {
    const { databaseUrl, release } = await openDatabase();
    releases.push(release);
    process.env.DATABASE_URL = databaseUrl;
    if (!process.env.CHAIN_RPC_URL) releases.push((await openEmbeddedChain()).release);

    const { getEnv, EnvError } = await import("~/env");
    let env;
    try {
      env = getEnv();
    } catch (error) {
      if (error instanceof EnvError) {
        console.error(error.message);
        return 2;
      }
      throw error;
    }
    const { createDb } = await import("~/server/db");
    const { createChainClient } = await import("~/server/chain/chain-client");
    const { reconcileBooks, reconciliationSettings } = await import("~/server/services/reconciliation/reconcile-books");
    const { formatReconciliationReport } = await import("~/server/services/reconciliation/format-report");
    const { toReconciliationReportDto } = await import("~/server/api/dto-reconciliation");
    db = createDb(databaseUrl, 2);
    const chain = createChainClient({ rpcUrl: env.CHAIN_RPC_URL, chainId: env.CHAIN_ID, usdcAddress: env.USDC_ADDRESS as `0x${string}`, opsPrivateKey: env.OPS_PRIVATE_KEY as `0x${string}` });
    const report = await reconcileBooks({ db, chain, settings: reconciliationSettings(env) });
    console.log(json ? JSON.stringify(toReconciliationReportDto(report, { limit: report.jobs.length, offset: 0 }), null, 2) : formatReconciliationReport(report));
    return report.differences.length === 0 ? 0 : 1;
  } catch (error) {
    console.error(`reconcile: could not run: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  } finally {
    await db?.$disconnect();
    for (const release of releases.reverse()) await release().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error("reconcile failed:", error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
