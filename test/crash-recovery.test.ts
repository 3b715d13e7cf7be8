import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// The app runs in a child process that these tests SIGKILL, as a crash would; the database and
// the chain live on. Manual oracle: the buyer's verdict triggers the payout.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ appProcess: true });
});

afterAll(async () => {
  await app?.stop();
});

const stopMining = () => app.manualBlocks({ automine: false });
const resumeMining = () => app.autoBlocks();

/** A funded job with a claimed worker and a delivery waiting for the buyer's verdict. */
async function jobAwaitingVerdict(name: string, workerWallet: Address, price = "10") {
  const buyer = await app.registerAgent(`${name}-buyer`, { wallet: true });
  const worker = await app.registerAgent(`${name}-worker`, { wallet: workerWallet });
  const taskId = await createFundedJob(app, buyer, price);
  expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "done" } });
  expect(sub.status).toBe(202);
  return { buyer, worker, taskId, submissionId: sub.body.submission_id as string };
}

async function pass(buyerKey: string, submissionId: string) {
  const verdict = await app.api("POST", `/submissions/${submissionId}/verdict`, { key: buyerKey, body: { passed: true, reason: "ok" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
}

async function transfersOf(taskId: string) {
  return app.db.transfer.findMany({ where: { jobId: taskId }, orderBy: { createdAt: "asc" } });
}

async function waitForTransfersFinal(taskId: string, timeoutMs: number) {
  return app.waitFor(
    `transfers of ${taskId} final`,
    async () => {
      const rows = await transfersOf(taskId);
      return rows.length > 0 && rows.every((t) => t.status === "success") ? rows : null;
    },
    timeoutMs,
  );
}

describe("a crash mid-payout", () => {
  it("after a kill during a payout, that payout and a new job's payout both land within seconds of the restart", async () => {
    const first = await jobAwaitingVerdict("kill-payout", "0x0000000000000000000000000000000000003301");
    // Nothing is mined while the payout is in flight, so the background worker is mid-attempt
    // (waiting for its receipt, its pg-boss job active) when the process dies.
    await stopMining();
    await pass(first.buyer.apiKey, first.submissionId);
    await app.waitFor("payout broadcast", async () => (await transfersOf(first.taskId)).some((t) => t.kind === "payout" && t.status === "sent"));
    await app.crash();
    await resumeMining();

    await app.restart();
    const restartedAt = Date.now();
    await waitForTransfersFinal(first.taskId, 15_000);
    expect(await app.balanceOf("0x0000000000000000000000000000000000003301")).toBe(parseUsdc("8"));

    const second = await jobAwaitingVerdict("after-restart", "0x0000000000000000000000000000000000003302");
    await pass(second.buyer.apiKey, second.submissionId);
    await waitForTransfersFinal(second.taskId, 15_000);
    expect(await app.balanceOf("0x0000000000000000000000000000000000003302")).toBe(parseUsdc("8"));
    // Both within seconds (pg-boss kept an orphan's slot for 15 minutes before).
    expect(Date.now() - restartedAt).toBeLessThan(30_000);
  });

  it("when the chain loses a confirmed refund and payout with the crashed app, both land again exactly once and later transfers are not blocked", async () => {
    const workerWallet = "0x0000000000000000000000000000000000003303" as const;
    const paid = await jobAwaitingVerdict("lost-payout", workerWallet);
    const refundBuyer = await app.registerAgent("lost-refund-buyer", { wallet: true });
    const refundTask = await createFundedJob(app, refundBuyer, "5");
    expect((await app.api("POST", `/jobs/${refundTask}/cancel`, { key: refundBuyer.apiKey })).status).toBe(200);
    const buyerBefore = await app.balanceOf(refundBuyer.wallet!);
    const treasuryBefore = await app.balanceOf(app.treasury as Address);

    // What the chain will forget: everything from here on (as the embedded chain did when it
    // died with the app and came back from a state file a few seconds old).
    const snapshot = await app.testClient.snapshot();
    const refund = await app.api("POST", `/jobs/${refundTask}/refund`, { key: refundBuyer.apiKey });
    expect(refund.status).toBe(200);
    await pass(paid.buyer.apiKey, paid.submissionId);
    await waitForTransfersFinal(refundTask, 15_000);
    await waitForTransfersFinal(paid.taskId, 15_000);
    expect((await app.api("GET", `/jobs/${refundTask}`)).body.status).toBe("refunded");

    await app.crash();
    await app.testClient.revert({ id: snapshot });
    expect(await app.balanceOf(workerWallet)).toBe(0n);
    expect(await app.balanceOf(refundBuyer.wallet!)).toBe(buyerBefore);

    await app.restart();
    // The start-up sweep finds the chain behind the recorded nonces and sends the same bytes again.
    await app.waitFor("payout back on chain", async () => (await app.balanceOf(workerWallet)) === parseUsdc("8"), 20_000);
    await app.waitFor("refund back on chain", async () => (await app.balanceOf(refundBuyer.wallet!)) === buyerBefore + parseUsdc("5"), 20_000);
    await waitForTransfersFinal(refundTask, 15_000);
    await waitForTransfersFinal(paid.taskId, 15_000);

    // A later payout is not stuck behind anything.
    const later = await jobAwaitingVerdict("after-loss", "0x0000000000000000000000000000000000003304");
    await pass(later.buyer.apiKey, later.submissionId);
    await waitForTransfersFinal(later.taskId, 15_000);

    // Exactly once: run the sweep's repair again and let blocks pass, then count the money.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await app.balanceOf(workerWallet)).toBe(parseUsdc("8"));
    expect(await app.balanceOf(refundBuyer.wallet!)).toBe(buyerBefore + parseUsdc("5"));
    expect(await app.balanceOf("0x0000000000000000000000000000000000003304")).toBe(parseUsdc("8"));
    expect(await app.balanceOf(app.treasury as Address)).toBe(treasuryBefore + parseUsdc("4"));
    // Every nonce the wallet used belongs to a recorded transfer or filler: nothing was sent twice.
    const opsNonce = await app.publicClient.getTransactionCount({ address: app.opsAddress });
    const recorded = (await app.db.transfer.count({ where: { nonce: { not: null } } })) + (await app.db.nonceFiller.count());
    expect(opsNonce).toBe(recorded);
  });

  it("a retry with the Idempotency-Key of a request the crash cut short is answered at once, not refused as in progress", async () => {
    const buyer = await app.registerAgent("cut-short-buyer", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "5");
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey })).status).toBe(200);
    // The refund is sent inside the request, which then waits for it to be mined: with no blocks
    // it waits, and the process dies while the key is still "in progress".
    await stopMining();
    const cut = app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey, headers: { "Idempotency-Key": "refund-cut-short" } }).catch((err: Error) => err);
    await app.waitFor("refund recorded", async () => (await app.db.transfer.count({ where: { jobId: taskId, kind: "refund", status: "sent" } })) === 1);
    await app.crash();
    expect(await cut).toBeInstanceOf(Error);
    await resumeMining();
    await app.restart();

    const retried = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey, headers: { "Idempotency-Key": "refund-cut-short" } });
    expect(retried.body.error?.code).not.toBe("IDEMPOTENCY_KEY_IN_USE");
    expect(retried.status).toBe(409);
    expect(retried.body.error.code).toBe("ALREADY_REFUNDED");
    await app.waitFor("refund final", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded", 20_000);
  });
});
