// Compiles contracts/TestUSDC.sol into .data/contracts/TestUSDC.json (no-op when the cache is fresh).
import { loadTestUsdcArtifact } from "~/server/chain/usdc-contract";

const startedAt = performance.now();
const artifact = loadTestUsdcArtifact();
const elapsedMs = Math.round(performance.now() - startedAt);
console.log(
  `TestUSDC: ${artifact.abi.length} ABI entries, ${(artifact.bytecode.length - 2) / 2} bytes of init code (${elapsedMs} ms)`,
);
