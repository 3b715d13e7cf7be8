import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Money that got stuck, on real parts (manual oracle, anvil USDC): G06, payouts skipped for a
// missing wallet, sent again by an admin through the same recorded path; G21, whether the
// operations wallet holds what it owes. Reverts, automatic retries and waiting for funds:
// test/transfer-funds-and-retries.test.ts.
let app: TestApp;
let admin: RegisteredAgent;
let buyer: Awaited<ReturnType<TestApp["registerAgent"]>>;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["retry-admin"] });
  admin = await app.registerAgent("retry-admin");
  buyer = await app.registerAgent("retry-buyer", { wallet: true });
});

afterAll(async () => {
  await app?.stop();
});

/** Claims, submits and passes the work; the job resolves and its payout and fee are queued. */
async function passWork(taskId: string, worker: RegisteredAgent) {
  await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: `work by ${worker.agentId}` } });
  const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "good" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
}

async function payoutStatusBecomes(taskId: string, status: string) {
  return app.waitFor(`payout ${status}`, async () => {
    const job = await app.api("GET", `/jobs/${taskId}`);
    return job.body.payout_status === status ? job.body : null;
  });
}

const retry = (taskId: string, key = admin.apiKey) => app.api("POST", `/admin/jobs/${taskId}/retry-payout`, { key });

describe("retrying payouts", () => {
  it("sends a payout skipped for a missing wallet once the worker has one, and only then", async () => {
    const worker = await app.registerAgent("retry-walletless");
    const taskId = await createFundedJob(app, buyer, "10");
    await passWork(taskId, worker);
    await payoutStatusBecomes(taskId, "skipped");

    expect((await retry(taskId, worker.apiKey)).status).toBe(403);
    const noWallet = await retry(taskId);
    expect(noWallet.status).toBe(400);
    expect(noWallet.body.error.code).toBe("WALLET_REQUIRED");
    expect(noWallet.body.error.message).toContain("retry-walletless");

    const wallet: Address = "0x0000000000000000000000000000000000009931";
    expect((await app.api("PATCH", "/agents/retry-walletless", { key: worker.apiKey, body: { wallet_address: wallet } })).status).toBe(200);
    const retried = await retry(taskId);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body.payout_status).toBe("success");
    expect(retried.body.transfers.find((t: { kind: string }) => t.kind === "payout")).toMatchObject({ status: "success", amount: "8", to_address: wallet });
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.api("GET", `/jobs/${taskId}`)).body.payout_status).toBe("success");

    const again = await retry(taskId);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("NOTHING_TO_RETRY");
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    const events = await app.api("GET", `/jobs/${taskId}/events?limit=200`, { key: buyer.apiKey });
    expect(events.body.events.find((e: { kind: string }) => e.kind === "transfers_retried")).toMatchObject({ actor: "retry-admin" });
  });

  it("answers 404 for an unknown job and 401 without credentials", async () => {
    expect((await retry("00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await app.api("POST", "/admin/jobs/00000000-0000-4000-8000-000000000000/retry-payout")).status).toBe(401);
  });
});

describe("solvency", () => {
  const solvency = async () => {
    const res = await app.api("GET", "/platform/solvency", { key: admin.apiKey });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { ...res.body, balance: parseUsdc(res.body.usdc_balance), owed: parseUsdc(res.body.liabilities) };
  };

  it("follows deposits, payouts and refunds: an unreturned overpayment is still owed", async () => {
    const worker = await app.registerAgent("solvency-worker", { wallet: true });
    const before = await solvency();
    expect(before.operations_wallet).toBe(app.opsAddress);
    expect(before.balance).toBe(await app.balanceOf(app.opsAddress));

    const taskId = await createFundedJob(app, buyer, "10", {}, "12");
    const funded = await solvency();
    expect(funded.owed - before.owed).toBe(parseUsdc("12"));
    expect(funded.balance - before.balance).toBe(parseUsdc("12"));
    expect(funded.jobs_holding_funds).toBe(before.jobs_holding_funds + 1);

    await passWork(taskId, worker);
    await payoutStatusBecomes(taskId, "success");
    await app.waitFor("fee sent", async () => (await app.db.transfer.count({ where: { jobId: taskId, status: "success" } })) === 2);
    const paid = await solvency();
    // Payout 8 and fee 2 left the wallet; the buyer's 2 over the price is still theirs.
    expect(paid.owed - before.owed).toBe(parseUsdc("2"));
    expect(paid.balance - before.balance).toBe(parseUsdc("2"));

    expect((await app.api("POST", `/jobs/${taskId}/refund-excess`, { key: buyer.apiKey })).body.status).toBe("success");
    const settled = await solvency();
    expect(settled.owed).toBe(before.owed);
    expect(settled.balance).toBe(before.balance);
    expect(settled.solvent).toBe(settled.balance >= settled.owed);
  });

  it("says when the wallet holds less than it owes, and is for admins only", async () => {
    const taskId = await createFundedJob(app, buyer, "5");
    const sink: Address = "0x0000000000000000000000000000000000009938";
    const held = await app.balanceOf(app.opsAddress);
    await app.transferUsdc(app.opsKey, sink, (Number(held) / 1e6).toString());
    const short = await solvency();
    expect(short.balance).toBe(0n);
    expect(short.owed).toBeGreaterThanOrEqual(parseUsdc("5"));
    expect(short).toMatchObject({ solvent: false, solvency_ratio: 0 });
    await app.mintUsdc(app.opsAddress, (Number(held) / 1e6).toString());
    expect((await solvency()).balance).toBe(held);

    const outsider = await app.registerAgent("solvency-outsider");
    expect((await app.api("GET", "/platform/solvency", { key: outsider.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/platform/solvency")).status).toBe(401);
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey })).status).toBe(200);
  });
});
