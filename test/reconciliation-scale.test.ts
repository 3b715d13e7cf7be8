import { encodeFunctionData, erc20Abi, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { inAnHour } from "./support/jobs";
import { startRpcProxy } from "./support/rpc-proxy";

// Reconciliation at the scale of a busy market: a thousand jobs funded by a thousand real deposits,
// half of them refunded by real transfers out, reconciled with a handful of chain requests (log
// ranges, not a round trip per job) and keyset-paged reads of the books.
const JOBS = 1_000;
const REFUNDED = 500;

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

/** Signs and sends `count` USDC transfers of 1 USDC from `key`, nonces in a row; returns their hashes once all are mined. */
async function sendTransfers(key: Hex, to: (i: number) => Address, count: number): Promise<{ hashes: Hex[]; nonces: number[] }> {
  const account = privateKeyToAccount(key);
  const first = await app.publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const hashes: Hex[] = [];
  const nonces: number[] = [];
  for (let i = 0; i < count; i++) {
    const signed = await account.signTransaction({
      type: "eip1559",
      chainId: 31337,
      nonce: first + i,
      to: app.usdcAddress as Address,
      data: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [to(i), parseUsdc("1")] }),
      gas: 80_000n,
      maxFeePerGas: 20_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
    hashes.push(await app.publicClient.sendRawTransaction({ serializedTransaction: signed }));
    nonces.push(first + i);
  }
  const last = await app.publicClient.waitForTransactionReceipt({ hash: hashes[hashes.length - 1]! });
  expect(last.status).toBe("success");
  return { hashes, nonces };
}

describe("reconciliation at scale", () => {
  it(`reconciles ${JOBS} funded jobs with a bounded number of chain requests`, async () => {
    const buyer = await app.registerAgent("scale-buyer", { wallet: true });
    await app.mintUsdc(buyer.wallet!, String(JOBS));
    const deposits = await sendTransfers(buyer.privateKey!, () => app.opsAddress as Address, JOBS);
    const refunds = await sendTransfers(app.opsKey, () => buyer.wallet!, REFUNDED);

    // The books those transfers belong to (written directly: the API path of each is tested elsewhere).
    const ids = deposits.hashes.map(() => crypto.randomUUID());
    await app.db.job.createMany({
      data: ids.map((id, i) => ({
        id,
        title: `Scale ${i}`,
        description: "one of many",
        rubric: "n/a",
        price: parseUsdc("1"),
        buyerId: buyer.agentId,
        expiry: new Date(inAnHour() * 1_000),
        status: i < REFUNDED ? ("refunded" as const) : ("funded" as const),
        depositTxHash: deposits.hashes[i]!,
        depositAmount: parseUsdc("1"),
        depositFrom: buyer.wallet!,
        fundedAt: new Date(),
      })),
    });
    await app.db.transfer.createMany({
      data: refunds.hashes.map((txHash, i) => ({
        jobId: ids[i]!,
        kind: "refund" as const,
        idempotencyKey: `refund:${ids[i]}`,
        agentId: buyer.agentId,
        toAddress: buyer.wallet!,
        amount: parseUsdc("1"),
        status: "success" as const,
        txHash,
        nonce: refunds.nonces[i]!,
        confirmedAt: new Date(),
      })),
    });

    const { createChainClient } = await import("~/server/chain/chain-client");
    const { reconcileBooks, reconciliationSettings } = await import("~/server/services/reconciliation/reconcile-books");
    const { getEnv } = await import("~/env");
    const env = getEnv();
    const proxy = await startRpcProxy(app.rpcUrl);
    try {
      const chain = createChainClient({ rpcUrl: proxy.url, chainId: 31337, usdcAddress: env.USDC_ADDRESS as Address, opsPrivateKey: env.OPS_PRIVATE_KEY as Hex });
      const started = performance.now();
      const report = await reconcileBooks({ db: app.db, chain, settings: reconciliationSettings(env) });
      const elapsedMs = Math.round(performance.now() - started);
      console.log(`reconciled ${JOBS} jobs, ${JOBS + REFUNDED} transfers over ${report.toBlock} blocks in ${elapsedMs} ms with ${proxy.methods.length} chain requests (${proxy.methods.join(", ")})`);

      expect(report.differences).toEqual([]);
      expect(report.jobStates).toEqual({ stuck: 0, in_flight: 0, escrowed: JOBS - REFUNDED, refunded: REFUNDED, paid: 0, unfunded: 0 });
      expect(report.totals).toMatchObject({ deposits: parseUsdc(String(JOBS)), refunds: parseUsdc(String(REFUNDED)), balance: parseUsdc(String(JOBS - REFUNDED)) });
      expect(report.totals.expectedBalance).toBe(report.totals.balance);
      // The head block, the balance at it, and one pair of log requests per 10,000 blocks: nothing per job.
      expect(proxy.methods.filter((m) => m !== "eth_getLogs")).toEqual(["eth_getBlockByNumber", "eth_call"]);
      expect(proxy.methods.filter((m) => m === "eth_getLogs")).toHaveLength(2 * Math.ceil((Number(report.toBlock) + 1) / env.RECONCILIATION_LOG_CHUNK_BLOCKS));
    } finally {
      await proxy.close();
    }
  });
});
