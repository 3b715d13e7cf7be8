import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { erc20Abi, type Abi, type Hex } from "viem";

/**
 * ABI of the USDC functions and events the app uses. The standard ERC-20 part is viem's
 * `erc20Abi`, which real USDC on Base also satisfies; `mint` and the errors exist only on
 * contracts/TestUSDC.sol (local chains).
 */
export const usdcAbi = [
  ...erc20Abi,
  {
    type: "function",
    name: "mint",
    stateMutability: "nonpayable",
    inputs: [
      { name: "to", type: "address" },
      { name: "amount", type: "uint256" },
    ],
    outputs: [],
  },
  {
    type: "error",
    name: "ERC20InsufficientBalance",
    inputs: [
      { name: "sender", type: "address" },
      { name: "balance", type: "uint256" },
      { name: "needed", type: "uint256" },
    ],
  },
  {
    type: "error",
    name: "ERC20InsufficientAllowance",
    inputs: [
      { name: "spender", type: "address" },
      { name: "allowance", type: "uint256" },
      { name: "needed", type: "uint256" },
    ],
  },
  { type: "error", name: "ERC20InvalidReceiver", inputs: [{ name: "receiver", type: "address" }] },
  { type: "error", name: "ERC20InvalidSpender", inputs: [{ name: "spender", type: "address" }] },
] as const;

/** USDC has 6 decimals on every chain the app supports; amounts are integers of 10^-6 USDC. */
export const USDC_DECIMALS = 6;

export interface TestUsdcArtifact {
  abi: Abi;
  bytecode: Hex;
}

interface CachedArtifactFile extends TestUsdcArtifact {
  cacheKey: string;
  compilerVersion: string;
}

const CONTRACT_SOURCE_RELATIVE_PATH = path.join("contracts", "TestUSDC.sol");
const ARTIFACT_CACHE_RELATIVE_PATH = path.join(".data", "contracts", "TestUSDC.json");
const CONTRACT_NAME = "TestUSDC";

// Pinned rather than solc's default (prague in 0.8.30) so the bytecode does not change with a
// compiler bump and runs on any post-Dencun chain (anvil's default hardfork included).
const COMPILER_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { [CONTRACT_NAME]: ["abi", "evm.bytecode.object"] } },
} as const;

let artifactInMemory: { cacheKey: string; artifact: TestUsdcArtifact } | undefined;

/**
 * Compiles contracts/TestUSDC.sol with the bundled solc-js and caches the result in
 * .data/contracts/TestUSDC.json, keyed by a hash of the source and compiler settings.
 * A cold compile loads solc's 9.6 MB wasm blob and takes about a second; a cache hit only
 * reads the source and the JSON file.
 */
export function loadTestUsdcArtifact(options: { projectRoot?: string } = {}): TestUsdcArtifact {
  const projectRoot = options.projectRoot ?? findProjectRoot();
  const sourcePath = path.join(projectRoot, CONTRACT_SOURCE_RELATIVE_PATH);
  const cachePath = path.join(projectRoot, ARTIFACT_CACHE_RELATIVE_PATH);
  const source = readFileSync(sourcePath, "utf8");
  const cacheKey = createHash("sha256")
    .update(JSON.stringify({ source, settings: COMPILER_SETTINGS, solcPackageVersion: readSolcPackageVersion() }))
    .digest("hex");

  if (artifactInMemory?.cacheKey === cacheKey) return artifactInMemory.artifact;

  const cached = readCachedArtifact(cachePath, cacheKey);
  if (cached) {
    artifactInMemory = { cacheKey, artifact: cached };
    return cached;
  }

  const { artifact, compilerVersion } = compileWithSolc(source);
  const fileContent: CachedArtifactFile = { cacheKey, compilerVersion, ...artifact };
  mkdirSync(path.dirname(cachePath), { recursive: true });
  // Test files run in parallel processes that may all compile on a cold cache: write to a
  // private temp file and rename, so no reader ever sees a half-written JSON file.
  const tempPath = `${cachePath}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tempPath, JSON.stringify(fileContent, null, 2));
  renameSync(tempPath, cachePath);

  artifactInMemory = { cacheKey, artifact };
  return artifact;
}

function readCachedArtifact(cachePath: string, cacheKey: string): TestUsdcArtifact | undefined {
  if (!existsSync(cachePath)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(cachePath, "utf8")) as Partial<CachedArtifactFile>;
    if (parsed.cacheKey !== cacheKey || !Array.isArray(parsed.abi) || typeof parsed.bytecode !== "string") {
      return undefined;
    }
    return { abi: parsed.abi as Abi, bytecode: parsed.bytecode as Hex };
  } catch {
    // A corrupt cache file is just a cache miss; the recompile overwrites it.
    return undefined;
  }
}

interface SolcOutput {
  errors?: { severity: "error" | "warning" | "info"; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
}

interface SolcModule {
  compile(input: string): string;
  version(): string;
}

// The package.json is tiny, unlike the compiler itself, so a solc upgrade invalidates the
// cache without loading solc on every cache hit.
function readSolcPackageVersion(): string {
  const solcPackage = createRequire(import.meta.url)("solc/package.json") as { version: string };
  return solcPackage.version;
}

function compileWithSolc(source: string): { artifact: TestUsdcArtifact; compilerVersion: string } {
  // Loaded lazily: importing solc evaluates a 9.6 MB emscripten module, which request-serving
  // code that only needs `usdcAbi` should never pay for.
  const solc = createRequire(import.meta.url)("solc") as SolcModule;
  const sourceKey = "TestUSDC.sol";
  const input = {
    language: "Solidity",
    sources: { [sourceKey]: { content: source } },
    settings: COMPILER_SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;

  const errors = (output.errors ?? []).filter((entry) => entry.severity === "error");
  if (errors.length > 0) {
    throw new Error(
      `solc ${solc.version()} failed to compile ${CONTRACT_SOURCE_RELATIVE_PATH}:\n` +
        errors.map((entry) => entry.formattedMessage).join("\n"),
    );
  }
  const contract = output.contracts?.[sourceKey]?.[CONTRACT_NAME];
  if (!contract || !contract.evm.bytecode.object) {
    throw new Error(`solc output has no bytecode for ${CONTRACT_NAME}`);
  }
  return {
    artifact: { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` },
    compilerVersion: solc.version(),
  };
}

function findProjectRoot(): string {
  // This file lives in src/server/chain; scripts may run from any directory, so prefer the
  // location of the source tree and fall back to the working directory (e.g. when bundled).
  try {
    const fromModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
    if (existsSync(path.join(fromModule, CONTRACT_SOURCE_RELATIVE_PATH))) return fromModule;
  } catch {
    // import.meta.url is not a file: URL inside some bundles.
  }
  return process.cwd();
}
