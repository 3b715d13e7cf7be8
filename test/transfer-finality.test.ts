import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Outgoing transfers are final only CONFIRMATIONS (12) blocks deep; until then a vanished one is
// sent again, an underpriced one is replaced, and a nonce nothing holds is filled.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["stuck-admin"], extraEnv: { TRANSFER_STUCK_AFTER_SECONDS: "5" } });
});

afterAll(async () => {
  await app?.stop();
});

beforeEach(async () => {
  // Each test starts on a chain that mines by itself, every transaction and every 200 ms.
  await app.autoBlocks();
});

/** Blocks only when a transaction arrives or the test mines: confirmations are counted by hand. */
const manualBlocks = () => app.manualBlocks();

async function payoutAwaitingVerdict(name: string, workerWallet: Address) {
  const buyer = await app.registerAgent(`${name}-buyer`, { wallet: true });
  const worker = await app.registerAgent(`${name}-worker`, { wallet: workerWallet });
  const taskId = await createFundedJob(app, buyer, "10");
  expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "done" } });
  return { buyer, taskId, submissionId: sub.body.submission_id as string };
}

async function pass(buyerKey: string, submissionId: string) {
  const res = await app.api("POST", `/submissions/${submissionId}/verdict`, { key: buyerKey, body: { passed: true, reason: "ok" } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const payoutOf = (taskId: string) => app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "payout" } });

describe("transfer finality", () => {
  it("keeps a mined payout `sent` until CONFIRMATIONS blocks, and sends it again when its block vanishes", async () => {
    await manualBlocks();
    const wallet = "0x0000000000000000000000000000000000004401" as const;
    const { buyer, taskId, submissionId } = await payoutAwaitingVerdict("final", wallet);
    const beforeVerdict = await app.testClient.snapshot();
    await pass(buyer.apiKey, submissionId);
    const mined = await app.waitFor("payout mined", async () => {
      const p = await payoutOf(taskId);
      return p.blockNumber !== null ? p : null;
    });
    expect(mined.status).toBe("sent");
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.api("GET", `/jobs/${taskId}`)).body.payout_status).toBe("sent");

    // A reorganisation takes the block away before it is final: the payout is broadcast again
    // from its stored bytes, mined again, and paid once.
    await app.testClient.revert({ id: beforeVerdict });
    expect(await app.balanceOf(wallet)).toBe(0n);
    await app.waitFor("payout mined again", async () => (await app.balanceOf(wallet)) === parseUsdc("8"), 20_000);
    await app.mine(12);
    const final = await app.waitFor("payout final", async () => {
      const p = await payoutOf(taskId);
      return p.status === "success" ? p : null;
    }, 20_000);
    expect(final.txHash).toBe(mined.txHash);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.api("GET", `/jobs/${taskId}`)).body.payout_status).toBe("success");
  });

  it("replaces a stored payout the node refuses as underpriced with the same nonce and higher fees, and pays it once", async () => {
    const wallet = "0x0000000000000000000000000000000000004402" as const;
    const { buyer, taskId, submissionId } = await payoutAwaitingVerdict("underpriced", wallet);
    const restartRunner = await app.stopRunner();
    await pass(buyer.apiKey, submissionId);
    // Signed and stored at today's fees, never broadcast (the process died), while fees rose.
    const { getChain } = await import("~/server/chain/chain");
    const chain = getChain();
    const payout = await payoutOf(taskId);
    const fee = await app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "fee" } });
    const nonce = await chain.getPendingNonce();
    const signed = await chain.signUsdcTransfer({ to: wallet, amount: payout.amount, nonce });
    await app.db.transfer.update({ where: { id: payout.id }, data: { status: "sent", signedTx: signed.signedTx, txHash: signed.txHash, nonce, sentAt: new Date() } });
    await manualBlocks();
    await app.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: 10n ** 14n });
    await app.mine(1);
    await expect(chain.broadcastSignedTx(signed.signedTx)).rejects.toThrow(/fee too low/);

    await restartRunner();
    const replaced = await app.waitFor("payout replaced and mined", async () => {
      await app.mine(1);
      const p = await payoutOf(taskId);
      return p.blockNumber !== null ? p : null;
    }, 20_000);
    expect(replaced.nonce).toBe(nonce);
    expect(replaced.replacedTxHashes).toEqual([signed.txHash]);
    expect(replaced.txHash).not.toBe(signed.txHash);
    await app.autoBlocks();
    await app.waitFor("payout and fee final", async () => {
      const rows = await app.db.transfer.findMany({ where: { id: { in: [payout.id, fee.id] } } });
      return rows.every((r) => r.status === "success");
    }, 20_000);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });

  it("fills a nonce nothing holds with a zero-value transaction, so the transfers behind it are mined", async () => {
    const wallet = "0x0000000000000000000000000000000000004403" as const;
    const { buyer, taskId, submissionId } = await payoutAwaitingVerdict("gap", wallet);
    const restartRunner = await app.stopRunner();
    await pass(buyer.apiKey, submissionId);
    const { getChain } = await import("~/server/chain/chain");
    const chain = getChain();
    const payout = await payoutOf(taskId);
    // The payout holds the nonce after one that nothing will ever send.
    const gap = await chain.getPendingNonce();
    const signed = await chain.signUsdcTransfer({ to: wallet, amount: payout.amount, nonce: gap + 1 });
    await app.db.transfer.update({ where: { id: payout.id }, data: { status: "sent", signedTx: signed.signedTx, txHash: signed.txHash, nonce: gap + 1, sentAt: new Date() } });
    await chain.broadcastSignedTx(signed.signedTx as Hex);
    await app.mine(2);
    expect(await app.balanceOf(wallet)).toBe(0n);

    await restartRunner();
    await app.waitFor("payout final behind the filled gap", async () => (await payoutOf(taskId)).status === "success", 30_000);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    const filler = await app.db.nonceFiller.findUniqueOrThrow({ where: { nonce: gap } });
    const receipt = await app.publicClient.getTransactionReceipt({ hash: filler.txHash as Hex });
    expect(receipt.status).toBe("success");
    expect(receipt.to?.toLowerCase()).toBe(app.opsAddress.toLowerCase());
  });

  it("reports transfers unconfirmed past TRANSFER_STUCK_AFTER_SECONDS in /health and solvency, and clears once they land", async () => {
    const admin = await app.registerAgent("stuck-admin");
    const wallet = "0x0000000000000000000000000000000000004404" as const;
    const { buyer, taskId, submissionId } = await payoutAwaitingVerdict("stuck", wallet);
    await app.manualBlocks({ automine: false });
    await pass(buyer.apiKey, submissionId);
    const health = await app.waitFor("health degraded by the stuck payout", async () => {
      const res = await app.api("GET", "/health");
      return res.body.checks.transfers.ok === false ? res : null;
    }, 20_000);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("degraded");
    expect(health.body.checks.transfers.detail).toMatch(/2 transfers not final after 5 s \(2 unmined/);
    const solvency = await app.api("GET", "/platform/solvency", { key: admin.apiKey });
    expect(solvency.body.stuck_transfers).toMatchObject({ count: 2, amount: "10", unmined: 2, awaiting_confirmations: 0 });
    expect(solvency.body.stuck_transfers.oldest_age_seconds).toBeGreaterThanOrEqual(5);

    await app.testClient.setAutomine(true);
    await app.mine(1);
    await app.waitFor("both mined", async () => (await app.db.transfer.count({ where: { jobId: taskId, blockNumber: { not: null } } })) === 2, 20_000);
    await app.mine(12);
    await app.waitFor("health ok again", async () => (await app.api("GET", "/health")).body.checks.transfers.ok === true, 20_000);
    expect((await app.api("GET", "/platform/solvency", { key: admin.apiKey })).body.stuck_transfers.count).toBe(0);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });
});
