// Stands in for `npm start` in test/dev-chain.test.ts: starts the embedded chain the way
// scripts/start.ts does, prints its RPC URL, and waits to be killed.
import { startDurableAnvil } from "~/server/dev/anvil";

const anvil = await startDurableAnvil({ dataDir: process.argv[2]!, blockTimeSeconds: 1 });
process.stdout.write(`RPC ${anvil.rpcUrl}\n`);
setInterval(() => undefined, 60_000);
