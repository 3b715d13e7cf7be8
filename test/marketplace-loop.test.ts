import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { startFakeOpenAI, FAKE_MODEL_ID, type FakeOpenAI } from "./support/fake-openai-server";
import { createFundedJob as createFundedJobFor, inAnHour } from "./support/jobs";

// The whole loop over HTTP, as two agents would do it, on a real Postgres, a real anvil and a
// local OpenAI-compatible judge that passes deliveries containing "GOOD".

let app: TestApp;
let judge: FakeOpenAI;

beforeAll(async () => {
  judge = await startFakeOpenAI();
  judge.setBehaviour((body: any) => {
    const text = JSON.stringify(body.messages);
    return text.includes("GOOD")
      ? { kind: "verdict", score: 92, verdict: "pass", reason: "Meets the rubric", criteria: [{ criterion: "Mentions the finding", passed: true, reasoning: "It does" }] }
      : { kind: "verdict", score: 20, verdict: "fail", reason: "Misses the rubric", criteria: [{ criterion: "Mentions the finding", passed: false, reasoning: "It does not" }] };
  });
  app = await startTestApp({ oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID } });
});

afterAll(async () => {
  await app?.stop();
  await judge?.close();
});

const createFundedJob = (buyer: Parameters<typeof createFundedJobFor>[1], price?: string, extra?: Record<string, unknown>) => createFundedJobFor(app, buyer, price, extra);

describe("the marketplace loop", () => {
  it("registers, funds with a real transfer, claims, submits, judges and pays the worker minus the fee", async () => {
    const buyer = await app.registerAgent("buyer-1", { wallet: true });
    const workerWallet = "0x00000000000000000000000000000000000a11ce" as const;
    const worker = await app.registerAgent("worker-1", { wallet: workerWallet });

    const info = await app.api("GET", "/platform/deposit-info");
    expect(info.status).toBe(200);
    expect(info.body.operations_wallet).toBe(app.opsAddress);
    expect(info.body.chain_connected).toBe(true);
    expect(info.body.chain_id).toBe(31337);

    const taskId = await createFundedJob(buyer, "10");
    const workerBefore = await app.balanceOf(workerWallet);
    const treasuryBefore = await app.balanceOf(app.treasury);

    const claim = await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(claim.status).toBe(200);
    expect(claim.body.worker_id).toBe("worker-1");

    const submit = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "GOOD summary of the finding" } });
    expect(submit.status).toBe(202);
    expect(submit.body.status).toBe("judging");

    const resolved = await app.waitFor("job resolved and paid", async () => {
      const job = await app.api("GET", `/jobs/${taskId}`, { key: buyer.apiKey });
      return job.body.status === "resolved" && job.body.payout_status === "success" && job.body.fee_tx_hash ? job.body : null;
    });
    expect(resolved.winner_id).toBe("worker-1");
    expect(resolved.result_data).toBe("GOOD summary of the finding");

    await app.waitFor("fee confirmed", async () => (await app.balanceOf(app.treasury)) > treasuryBefore);
    expect((await app.balanceOf(workerWallet)) - workerBefore).toBe(parseUsdc("8"));
    expect((await app.balanceOf(app.treasury)) - treasuryBefore).toBe(parseUsdc("2"));

    const submission = await app.api("GET", `/submissions/${submit.body.submission_id}`, { key: worker.apiKey });
    expect(submission.body.status).toBe("passed");
    expect(submission.body.oracle_score).toBe(92);
    expect(submission.body.oracle_steps.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(["size_check", "llm_judge"]));

    const profile = await app.api("GET", "/agents/worker-1");
    expect(profile.body.total_earned).toBe("8");
    expect(profile.body.jobs_completed).toBe(1);
    expect(profile.body.completion_rate).toBe(1);
  });

  it("fails a bad submission, then pays a passing retry", async () => {
    const buyer = await app.registerAgent("buyer-2", { wallet: true });
    const workerWallet = "0x00000000000000000000000000000000000b0b00" as const;
    const worker = await app.registerAgent("worker-2", { wallet: workerWallet });
    const taskId = await createFundedJob(buyer, "5", { max_retries: 2 });
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });

    const first = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "bad attempt" } });
    expect(first.status).toBe(202);
    const failed = await app.waitFor("first submission failed", async () => {
      const s = await app.api("GET", `/submissions/${first.body.submission_id}`, { key: worker.apiKey });
      return s.body.status === "failed" ? s.body : null;
    });
    expect(failed.oracle_reason).toBe("Misses the rubric");
    expect((await app.api("GET", `/jobs/${taskId}`)).body.status).toBe("claimed");

    const second = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "a GOOD attempt" } });
    expect(second.body.attempt).toBe(2);
    await app.waitFor("paid", async () => (await app.balanceOf(workerWallet)) === parseUsdc("4"));

    const third = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "more" } });
    expect(third.status).toBe(409);
  });

  it("cancels a funded job and refunds the buyer on chain", async () => {
    const buyer = await app.registerAgent("buyer-3", { wallet: true });
    const taskId = await createFundedJob(buyer, "7");
    const before = await app.balanceOf(buyer.wallet!);

    const early = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
    expect(early.status).toBe(409);

    const cancel = await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe("cancelled");

    const refund = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
    expect(refund.status).toBe(200);
    expect(refund.body.refund_status).toBe("success");
    expect(refund.body.refund_tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("7"));

    const again = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("ALREADY_REFUNDED");
  });

  it("refuses deposits that are too small, unconfirmed, reused or not USDC to the operations wallet", async () => {
    const buyer = await app.registerAgent("buyer-4", { wallet: true });
    const create = (price: string) =>
      app.api("POST", "/jobs", { key: buyer.apiKey, body: { title: "T", description: "D", rubric: "R", price, expiry: inAnHour() } });
    const jobA = (await create("10")).body.task_id;
    const jobB = (await create("3")).body.task_id;
    await app.mintUsdc(buyer.wallet!, "20");

    const small = await app.transferUsdc(buyer.privateKey!, app.opsAddress, "3");
    await app.mine(12);
    const tooSmall = await app.api("POST", `/jobs/${jobA}/fund`, { key: buyer.apiKey, body: { tx_hash: small } });
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.body.error.code).toBe("DEPOSIT_TOO_SMALL");
    expect(tooSmall.body.error.message).toContain("tx_hash");

    const fresh = await app.transferUsdc(buyer.privateKey!, app.opsAddress, "10");
    // With an Idempotency-Key too: "not confirmed yet" is not kept, so the same key works later.
    const unconfirmed = await app.api("POST", `/jobs/${jobA}/fund`, { key: buyer.apiKey, body: { tx_hash: fresh }, headers: { "Idempotency-Key": "fund-a" } });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.body.error.code).toBe("DEPOSIT_UNCONFIRMED");
    expect(unconfirmed.body.error.details.required).toBe(12);
    await app.mine(12);
    expect((await app.api("POST", `/jobs/${jobA}/fund`, { key: buyer.apiKey, body: { tx_hash: fresh }, headers: { "Idempotency-Key": "fund-a" } })).status).toBe(200);

    // The same deposit for the same job again (a retry whose first answer was lost) is that job, funded.
    const again = await app.api("POST", `/jobs/${jobA}/fund`, { key: buyer.apiKey, body: { tx_hash: fresh } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ task_id: jobA, status: "funded", deposit_tx_hash: fresh.toLowerCase() });
    const reused = await app.api("POST", `/jobs/${jobB}/fund`, { key: buyer.apiKey, body: { tx_hash: fresh } });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe("DEPOSIT_ALREADY_USED");

    const elsewhere = await app.transferUsdc(buyer.privateKey!, app.treasury, "3");
    await app.mine(12);
    const wrongRecipient = await app.api("POST", `/jobs/${jobB}/fund`, { key: buyer.apiKey, body: { tx_hash: elsewhere } });
    expect(wrongRecipient.body.error.code).toBe("DEPOSIT_TOO_SMALL");

    const unknown = await app.api("POST", `/jobs/${jobB}/fund`, { key: buyer.apiKey, body: { tx_hash: `0x${"ab".repeat(32)}` } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe("DEPOSIT_NOT_FOUND");

    // Someone else's deposit cannot fund my job, even one sent to the operations wallet.
    const other = await app.registerAgent("buyer-4-other", { wallet: true });
    await app.mintUsdc(other.wallet!, "3");
    const theirs = await app.transferUsdc(other.privateKey!, app.opsAddress, "3");
    await app.mine(12);
    const stolen = await app.api("POST", `/jobs/${jobB}/fund`, { key: buyer.apiKey, body: { tx_hash: theirs } });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.code).toBe("DEPOSIT_NOT_FROM_BUYER");
    const walletless = await app.registerAgent("buyer-4-walletless");
    const walletlessJob = (await app.api("POST", "/jobs", { key: walletless.apiKey, body: { title: "T", description: "D", rubric: "R", price: "3", expiry: inAnHour() } })).body.task_id;
    const noWallet = await app.api("POST", `/jobs/${walletlessJob}/fund`, { key: walletless.apiKey, body: { tx_hash: theirs } });
    expect(noWallet.status).toBe(400);
    expect(noWallet.body.error.message).toContain("wallet_address");

    const malformed = await app.api("POST", `/jobs/${jobB}/fund`, { key: buyer.apiKey, body: { tx_hash: "0x123" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toContain("tx_hash");
  });
});
