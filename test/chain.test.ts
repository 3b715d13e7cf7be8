import { createServer } from "node:net";
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  http,
  parseUnits,
  type Address,
  type Hash,
  type Hex,
} from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chainNameForId, createChainClient, type ChainClient } from "~/server/chain/chain-client";
import { deployTestUsdc, mintTestUsdc } from "~/server/chain/deploy-test-usdc";
import { loadTestUsdcArtifact, usdcAbi } from "~/server/chain/usdc-contract";
import { ANVIL_DEV_MNEMONIC, ANVIL_DEV_PRIVATE_KEYS, startAnvil } from "~/server/dev/anvil";

const [deployerKey, opsKey, buyerKey, strangerKey, payeeKey, secondPayeeKey] = ANVIL_DEV_PRIVATE_KEYS;
const deployer = privateKeyToAccount(deployerKey);
const ops = privateKeyToAccount(opsKey);
const buyer = privateKeyToAccount(buyerKey);
const stranger = privateKeyToAccount(strangerKey);
const payee = privateKeyToAccount(payeeKey);
const secondPayee = privateKeyToAccount(secondPayeeKey);

const usdc = (amount: string) => parseUnits(amount, 6);

let anvil: Awaited<ReturnType<typeof startAnvil>>;
let usdcAddress: Address;
let chain: ChainClient;
let testClient: ReturnType<typeof makeTestClient>;
const timings: Record<string, number> = {};

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function makeTestClient(rpcUrl: string) {
  return createTestClient({ mode: "anvil", transport: http(rpcUrl) });
}

async function transferUsdcAs(privateKey: Hex, to: Address, amount: bigint, options: { gas?: bigint } = {}) {
  const walletClient = createWalletClient({ account: privateKeyToAccount(privateKey), transport: http(anvil.rpcUrl) });
  const hash = await walletClient.writeContract({
    address: usdcAddress,
    abi: usdcAbi,
    functionName: "transfer",
    args: [to, amount],
    chain: null,
    gas: options.gas,
  });
  await chain.publicClient.waitForTransactionReceipt({ hash });
  return hash;
}

beforeAll(async () => {
  let startedAt = performance.now();
  anvil = await startAnvil();
  timings.anvilStartMs = performance.now() - startedAt;

  startedAt = performance.now();
  loadTestUsdcArtifact();
  timings.loadArtifactMs = performance.now() - startedAt;

  usdcAddress = await deployTestUsdc({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: deployerKey });
  chain = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, usdcAddress, opsPrivateKey: opsKey });
  testClient = makeTestClient(anvil.rpcUrl);
  await mintTestUsdc({ rpcUrl: anvil.rpcUrl, usdcAddress, minterPrivateKey: deployerKey, to: buyer.address, amount: usdc("1000") });
  await mintTestUsdc({ rpcUrl: anvil.rpcUrl, usdcAddress, minterPrivateKey: deployerKey, to: ops.address, amount: usdc("1000") });
});

afterAll(async () => {
  console.log("chain test timings (ms):", Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])));
  await anvil?.stop();
});

describe("dev accounts and contract", () => {
  it("hard-coded dev keys are the first 10 accounts of anvil's mnemonic", () => {
    const derived = Array.from({ length: 10 }, (_, index) => mnemonicToAccount(ANVIL_DEV_MNEMONIC, { addressIndex: index }));
    expect(ANVIL_DEV_PRIVATE_KEYS.map((key) => privateKeyToAccount(key).address)).toEqual(derived.map((account) => account.address));
  });

  it("the hand-written usdcAbi matches the compiled contract", () => {
    const signature = (item: { type: string; name?: string; inputs?: readonly { type: string }[] }) =>
      `${item.type} ${item.name}(${(item.inputs ?? []).map((input) => input.type).join(",")})`;
    const compiled = new Set(loadTestUsdcArtifact().abi.map(signature));
    for (const item of usdcAbi) expect(compiled, signature(item)).toContain(signature(item));
  });

  it("the deployed token reads like USDC", async () => {
    const read = <const F extends "name" | "symbol" | "decimals" | "totalSupply">(functionName: F) =>
      chain.publicClient.readContract({ address: usdcAddress, abi: usdcAbi, functionName });
    expect(await read("name")).toBe("USD Coin (test)");
    expect(await read("symbol")).toBe("USDC");
    expect(await read("decimals")).toBe(6);
    expect(await read("totalSupply")).toBe(usdc("2000"));
  });

  it("names chains", () => {
    expect(chainNameForId(8453)).toBe("Base");
    expect(chainNameForId(84532)).toBe("Base Sepolia");
    expect(chainNameForId(31337)).toBe("Anvil (local)");
    expect(chainNameForId(1)).toBe("chain 1");
    expect(chain.chainName).toBe("Anvil (local)");
    expect(chain.opsAddress).toBe(ops.address);
  });
});

describe("inspectDeposit", () => {
  it("sees a buyer's transfer to ops, and confirmations grow as blocks are mined", async () => {
    const txHash = await transferUsdcAs(buyerKey, ops.address, usdc("25.5"));
    const first = await chain.inspectDeposit(txHash);
    expect(first).toMatchObject({ found: true, succeeded: true, confirmations: 1, transfersToOps: usdc("25.5"), from: buyer.address });

    await testClient.mine({ blocks: 3 });
    const later = await chain.inspectDeposit(txHash);
    expect(later).toMatchObject({ found: true, confirmations: 4 });
    expect(later.found && first.found && later.blockNumber === first.blockNumber).toBe(true);
  });

  it("reports 0 for a transfer to someone else", async () => {
    const txHash = await transferUsdcAs(buyerKey, stranger.address, usdc("3"));
    expect(await chain.inspectDeposit(txHash)).toMatchObject({ found: true, succeeded: true, transfersToOps: 0n, from: null });
  });

  it("ignores Transfer events from other token contracts", async () => {
    const otherToken = await deployTestUsdc({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: deployerKey });
    const mintHash = await mintTestUsdc({ rpcUrl: anvil.rpcUrl, usdcAddress: otherToken, minterPrivateKey: buyerKey, to: ops.address, amount: usdc("50") });
    expect(await chain.inspectDeposit(mintHash)).toMatchObject({ found: true, succeeded: true, transfersToOps: 0n });
  });

  it("reports a reverted transfer as not succeeded with nothing received", async () => {
    const buyerBalance = await chain.getUsdcBalance(buyer.address);
    // An explicit gas limit skips estimation, which would refuse to send a reverting call.
    const txHash = await transferUsdcAs(buyerKey, ops.address, buyerBalance + 1n, { gas: 100_000n });
    expect(await chain.inspectDeposit(txHash)).toMatchObject({ found: true, succeeded: false, transfersToOps: 0n, from: null });
  });

  it("returns found:false for an unknown hash", async () => {
    const unknownHash: Hash = `0x${"ab".repeat(32)}`;
    expect(await chain.inspectDeposit(unknownHash)).toEqual({ found: false });
    expect(await chain.getTransferReceipt(unknownHash)).toBeNull();
    const startedAt = Date.now();
    expect(await chain.waitForTransferReceipt(unknownHash, 300)).toBeNull();
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });
});

describe("signed USDC payouts", () => {
  it("signs without sending, then a broadcast moves the balance", async () => {
    const before = await chain.getUsdcBalance(payee.address);
    const nonce = await chain.getPendingNonce();
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: payee.address, amount: usdc("7"), nonce });

    expect(await chain.getPendingNonce()).toBe(nonce); // signing alone sends nothing
    expect(await chain.getTransferReceipt(txHash)).toBeNull();

    expect(await chain.broadcastSignedTx(signedTx)).toBe(txHash);
    expect(await chain.waitForTransferReceipt(txHash, 10_000)).toMatchObject({ status: "success" });
    expect(await chain.getUsdcBalance(payee.address)).toBe(before + usdc("7"));
  });

  it("rebroadcasting the same signed tx pays once and does not throw (mined and pending)", async () => {
    const before = await chain.getUsdcBalance(payee.address);
    const nonce = await chain.getPendingNonce();
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: payee.address, amount: usdc("2"), nonce });

    // Pending: the node already has it in its pool ("already imported" on anvil).
    await testClient.setAutomine(false);
    try {
      expect(await chain.broadcastSignedTx(signedTx)).toBe(txHash);
      expect(await chain.broadcastSignedTx(signedTx)).toBe(txHash);
      await testClient.mine({ blocks: 1 });
    } finally {
      await testClient.setAutomine(true);
    }
    expect(await chain.waitForTransferReceipt(txHash, 10_000)).toMatchObject({ status: "success" });

    // Mined: the node now rejects it for its used nonce, which is this very transaction.
    expect(await chain.broadcastSignedTx(signedTx)).toBe(txHash);
    await testClient.mine({ blocks: 1 });
    expect(await chain.getUsdcBalance(payee.address)).toBe(before + usdc("2"));
  });

  it("a different tx for an already-used nonce is an error, not a silent success", async () => {
    const nonce = await chain.getPendingNonce();
    const first = await chain.signUsdcTransfer({ to: payee.address, amount: usdc("1"), nonce });
    const conflicting = await chain.signUsdcTransfer({ to: secondPayee.address, amount: usdc("1"), nonce });
    await chain.broadcastSignedTx(first.signedTx);
    await chain.waitForTransferReceipt(first.txHash, 10_000);
    await expect(chain.broadcastSignedTx(conflicting.signedTx)).rejects.toThrow(/nonce too low/i);
  });

  it("two transfers signed with consecutive nonces both land, even broadcast out of order", async () => {
    const payeeBefore = await chain.getUsdcBalance(payee.address);
    const secondBefore = await chain.getUsdcBalance(secondPayee.address);
    const nonce = await chain.getPendingNonce();
    const first = await chain.signUsdcTransfer({ to: payee.address, amount: usdc("4"), nonce });
    const second = await chain.signUsdcTransfer({ to: secondPayee.address, amount: usdc("6"), nonce: nonce + 1 });

    // The later nonce waits in the pool until the gap is filled.
    await chain.broadcastSignedTx(second.signedTx);
    await chain.broadcastSignedTx(first.signedTx);

    expect(await chain.waitForTransferReceipt(first.txHash, 10_000)).toMatchObject({ status: "success" });
    expect(await chain.waitForTransferReceipt(second.txHash, 10_000)).toMatchObject({ status: "success" });
    expect(await chain.getUsdcBalance(payee.address)).toBe(payeeBefore + usdc("4"));
    expect(await chain.getUsdcBalance(secondPayee.address)).toBe(secondBefore + usdc("6"));
    expect(await chain.getPendingNonce()).toBe(nonce + 2);
  });

  it("a payout larger than the ops balance is mined and reported as reverted", async () => {
    const opsBalance = await chain.getUsdcBalance(ops.address);
    const { signedTx, txHash } = await chain.signUsdcTransfer({ to: payee.address, amount: opsBalance + 1n, nonce: await chain.getPendingNonce() });
    await chain.broadcastSignedTx(signedTx);
    expect(await chain.waitForTransferReceipt(txHash, 10_000)).toMatchObject({ status: "reverted" });
    expect(await chain.getUsdcBalance(ops.address)).toBe(opsBalance);
  });
});

describe("connectivity", () => {
  it("is connected to a running node and not to a closed port", async () => {
    expect(await chain.isConnected()).toBe(true);

    const stoppedNode = await startAnvil();
    await stoppedNode.stop();
    const disconnected = createChainClient({ rpcUrl: stoppedNode.rpcUrl, chainId: 31337, usdcAddress, opsPrivateKey: opsKey });
    const startedAt = Date.now();
    expect(await disconnected.isConnected()).toBe(false);
    expect(Date.now() - startedAt).toBeLessThan(2_500);
  });

  it("startAnvil honours a fixed port, chainId and interval mining", async () => {
    const port = await findFreePort();
    const node = await startAnvil({ port, chainId: 84532, blockTimeSeconds: 1 });
    try {
      expect(node.rpcUrl).toBe(`http://127.0.0.1:${port}`);
      const client = createPublicClient({ transport: http(node.rpcUrl) });
      expect(await client.getChainId()).toBe(84532);
    } finally {
      await node.stop();
    }
  });
});
