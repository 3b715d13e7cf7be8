import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Disputes (#34, G24) on real parts: manual oracle (the buyer gives verdicts), real anvil USDC.
let app: TestApp;
let admin: RegisteredAgent;
type Buyer = Awaited<ReturnType<TestApp["registerAgent"]>>;
let buyerA: Buyer;
let buyerB: Buyer;

const HOUR_MS = 3_600_000;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["dispute-admin"] });
  admin = await app.registerAgent("dispute-admin");
  buyerA = await app.registerAgent("dispute-buyer-a", { wallet: true });
  buyerB = await app.registerAgent("dispute-buyer-b", { wallet: true });
  // Platform-funded outcomes (an extra share, a refund after a payout) come out of the
  // operations wallet beyond any single job's deposit.
  await app.mintUsdc(app.opsAddress, "1000");
});

afterAll(async () => {
  await app?.stop();
});

/** Claims, submits and has the buyer give the verdict; returns the submission id. */
async function submitJudged(taskId: string, worker: RegisteredAgent, buyer: RegisteredAgent, passed: boolean): Promise<string> {
  await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: `work by ${worker.agentId}` } });
  expect(sub.status, JSON.stringify(sub.body)).toBe(202);
  const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed, reason: passed ? "good" : "misses the rubric" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
  return sub.body.submission_id as string;
}

async function fileDispute(taskId: string, who: RegisteredAgent, body: Record<string, unknown> = { reason: "the verdict was wrong" }) {
  return app.api("POST", `/jobs/${taskId}/dispute`, { key: who.apiKey, body });
}

async function resolve(disputeId: string, body: Record<string, unknown>, key = admin.apiKey) {
  return app.api("POST", `/disputes/${disputeId}/resolve`, { key, body: { note: "reviewed", ...body } });
}

async function settled(taskId: string) {
  return app.waitFor("transfers settled", async () => {
    const rows = await app.db.transfer.findMany({ where: { jobId: taskId } });
    return rows.every((t) => t.status === "success" || t.status === "skipped") ? rows : null;
  });
}

async function eventKinds(taskId: string, key: string): Promise<string[]> {
  const res = await app.api("GET", `/jobs/${taskId}/events?limit=200`, { key });
  expect(res.status).toBe(200);
  return res.body.events.map((e: { kind: string }) => e.kind);
}

describe("filing a dispute", () => {
  it("is open to the buyer and to workers who submitted; one open dispute per filer", async () => {
    const worker = await app.registerAgent("file-worker");
    const idle = await app.registerAgent("file-idle-worker");
    const stranger = await app.registerAgent("file-stranger");
    const taskId = await createFundedJob(app, buyerA, "5");
    const submissionId = await submitJudged(taskId, worker, buyerA, false);
    await app.api("POST", `/jobs/${taskId}/claim`, { key: idle.apiKey });

    expect((await fileDispute("00000000-0000-4000-8000-000000000000", worker)).status).toBe(404);
    const malformed = await fileDispute("not-a-job", worker);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details.fields).toHaveProperty("task_id");
    expect((await app.api("POST", `/jobs/${taskId}/dispute`, { body: { reason: "x" } })).status).toBe(401);
    const strangers = await fileDispute(taskId, stranger);
    expect(strangers.status).toBe(403);
    // Claiming without submitting is not enough to dispute a verdict.
    expect((await fileDispute(taskId, idle)).status).toBe(403);
    expect((await fileDispute(taskId, worker, { reason: "" })).status).toBe(400);
    expect((await fileDispute(taskId, worker, { reason: "x", submission_id: "00000000-0000-4000-8000-000000000000" })).body.error.code).toBe("SUBMISSION_NOT_FOUND");

    const filed = await fileDispute(taskId, worker, { reason: "it meets every rubric item", submission_id: submissionId });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    expect(filed.body).toMatchObject({ task_id: taskId, filed_by: "file-worker", submission_id: submissionId, status: "open", resolution: null, reason: "it meets every rubric item" });

    const again = await fileDispute(taskId, worker);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "DISPUTE_ALREADY_OPEN", details: { dispute_id: filed.body.dispute_id } });

    // The buyer is a separate filer.
    const byBuyer = await fileDispute(taskId, buyerA, { reason: "I want my money back" });
    expect(byBuyer.status).toBe(201);
    expect(await eventKinds(taskId, buyerA.apiKey)).toContain("dispute_filed");

    // Reading a job's disputes: buyer, its workers, admins; nobody else.
    for (const reader of [buyerA, worker, idle, admin]) {
      const list = await app.api("GET", `/jobs/${taskId}/disputes`, { key: reader.apiKey });
      expect(list.status, reader.agentId).toBe(200);
      expect(list.body.disputes.map((d: { dispute_id: string }) => d.dispute_id)).toEqual([filed.body.dispute_id, byBuyer.body.dispute_id]);
    }
    expect((await app.api("GET", `/jobs/${taskId}/disputes`, { key: stranger.apiKey })).status).toBe(403);
    expect((await app.api("GET", `/jobs/00000000-0000-4000-8000-000000000000/disputes`, { key: admin.apiKey })).status).toBe(404);

    // The admins' queue.
    expect((await app.api("GET", "/disputes?status=open", { key: buyerA.apiKey })).status).toBe(403);
    const queue = await app.api("GET", "/disputes?status=open&limit=1", { key: admin.apiKey });
    expect(queue.status).toBe(200);
    expect(queue.body).toMatchObject({ limit: 1, offset: 0 });
    expect(queue.body.disputes).toHaveLength(1);
    expect(queue.body.total).toBeGreaterThanOrEqual(2);
    const page2 = await app.api("GET", "/disputes?status=open&limit=1&offset=1", { key: admin.apiKey });
    expect(page2.body.disputes[0].dispute_id).not.toBe(queue.body.disputes[0].dispute_id);
  });

  it("closes DISPUTE_WINDOW_HOURS (72) after the job resolved", async () => {
    const loser = await app.registerAgent("window-loser");
    const winner = await app.registerAgent("window-winner", { wallet: "0x0000000000000000000000000000000000005551" });
    const taskId = await createFundedJob(app, buyerA, "5");
    await submitJudged(taskId, loser, buyerA, false);
    await submitJudged(taskId, winner, buyerA, true);
    expect((await app.api("GET", `/jobs/${taskId}`)).body.status).toBe("resolved");

    await app.db.job.update({ where: { id: taskId }, data: { resolvedAt: new Date(Date.now() - 73 * HOUR_MS) } });
    const late = await fileDispute(taskId, loser);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("DISPUTE_WINDOW_CLOSED");

    await app.db.job.update({ where: { id: taskId }, data: { resolvedAt: new Date(Date.now() - 71 * HOUR_MS) } });
    expect((await fileDispute(taskId, loser)).status).toBe(201);
  });

  it("closes DISPUTE_WINDOW_HOURS after the refund was confirmed", async () => {
    const worker = await app.registerAgent("window-refund-worker");
    const taskId = await createFundedJob(app, buyerA, "5");
    await submitJudged(taskId, worker, buyerA, false);
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyerA.apiKey })).status).toBe(200);
    const refund = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyerA.apiKey });
    expect(refund.status, JSON.stringify(refund.body)).toBe(200);
    await app.waitFor("refund confirmed", async () => (await app.db.transfer.findFirst({ where: { jobId: taskId, kind: "refund", status: "success" } })) ?? null);

    await app.db.transfer.updateMany({ where: { jobId: taskId, kind: "refund" }, data: { confirmedAt: new Date(Date.now() - 73 * HOUR_MS) } });
    expect((await fileDispute(taskId, worker)).body.error.code).toBe("DISPUTE_WINDOW_CLOSED");
    await app.db.transfer.updateMany({ where: { jobId: taskId, kind: "refund" }, data: { confirmedAt: new Date() } });
    expect((await fileDispute(taskId, worker)).status).toBe(201);
  });
});

describe("resolving a dispute", () => {
  it("uphold changes nothing; only admins resolve, once", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000006661";
    const worker = await app.registerAgent("uphold-worker", { wallet });
    const taskId = await createFundedJob(app, buyerA, "5");
    await submitJudged(taskId, worker, buyerA, false);
    const filed = await fileDispute(taskId, worker);
    const before = await app.api("GET", `/jobs/${taskId}`);

    expect((await resolve(filed.body.dispute_id, { resolution: "uphold" }, worker.apiKey)).status).toBe(403);
    expect((await resolve(filed.body.dispute_id, { resolution: "uphold" }, buyerA.apiKey)).status).toBe(403);
    expect((await resolve("00000000-0000-4000-8000-000000000000", { resolution: "uphold" })).body.error.code).toBe("DISPUTE_NOT_FOUND");
    expect((await resolve(filed.body.dispute_id, { resolution: "split_it" })).status).toBe(400);

    const upheld = await resolve(filed.body.dispute_id, { resolution: "uphold", note: "the rubric was not met" });
    expect(upheld.status, JSON.stringify(upheld.body)).toBe(200);
    expect(upheld.body).toMatchObject({ status: "resolved", resolution: "uphold", resolution_note: "the rubric was not met", resolved_by: "dispute-admin", job_status: before.body.status, transfers: [] });

    const after = await app.api("GET", `/jobs/${taskId}`);
    expect(after.body.status).toBe(before.body.status);
    expect(after.body.transfers).toEqual([]);
    expect(await app.balanceOf(wallet)).toBe(0n);
    expect(await eventKinds(taskId, buyerA.apiKey)).toContain("dispute_resolved");

    const twice = await resolve(filed.body.dispute_id, { resolution: "refund_buyer" });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("DISPUTE_NOT_OPEN");
    // The worker may file again once their dispute is closed.
    expect((await fileDispute(taskId, worker)).status).toBe(201);
  });

  it("overturn_to_worker pays the worker a share and blocks the buyer's refund", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000007771";
    const worker = await app.registerAgent("overturn-worker", { wallet });
    const taskId = await createFundedJob(app, buyerA, "10");
    const submissionId = await submitJudged(taskId, worker, buyerA, false);
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyerA.apiKey })).status).toBe(200);
    const filed = await fileDispute(taskId, worker, { reason: "wrongly failed", submission_id: submissionId });
    const treasuryBefore = await app.balanceOf(app.treasury);
    const buyerBefore = await app.balanceOf(buyerA.wallet!);

    const overturned = await resolve(filed.body.dispute_id, { resolution: "overturn_to_worker", note: "meets the rubric" });
    expect(overturned.status, JSON.stringify(overturned.body)).toBe(200);
    expect(overturned.body).toMatchObject({ status: "resolved", resolution: "overturn_to_worker", job_status: "resolved" });
    expect(overturned.body.transfers.map((t: { kind: string; amount: string }) => [t.kind, t.amount])).toEqual([
      ["payout", "8"],
      ["fee", "2"],
    ]);

    await settled(taskId);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.balanceOf(app.treasury)) - treasuryBefore).toBe(parseUsdc("2"));
    const job = await app.api("GET", `/jobs/${taskId}`);
    expect(job.body).toMatchObject({ status: "resolved", winner_id: "overturn-worker", payout_status: "success" });
    expect((await app.db.submission.findUniqueOrThrow({ where: { id: submissionId } })).isWinner).toBe(true);
    expect((await app.db.transfer.findMany({ where: { jobId: taskId } })).map((t) => t.idempotencyKey).sort()).toEqual(
      [`dispute:${filed.body.dispute_id}:fee`, `dispute:${filed.body.dispute_id}:payout`].sort(),
    );

    // The money went to the worker: nothing is left for the buyer to take back.
    const refund = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyerA.apiKey });
    expect(refund.status).toBe(409);
    expect(await app.balanceOf(buyerA.wallet!)).toBe(buyerBefore);
    const kinds = await eventKinds(taskId, buyerA.apiKey);
    expect(kinds).toEqual(expect.arrayContaining(["dispute_filed", "winner_selected", "resolved", "dispute_resolved"]));
  });

  it("overturn_to_worker is refused once the buyer's refund went out", async () => {
    const worker = await app.registerAgent("overturn-late-worker", { wallet: "0x0000000000000000000000000000000000007772" });
    const taskId = await createFundedJob(app, buyerA, "5");
    await submitJudged(taskId, worker, buyerA, false);
    await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyerA.apiKey });
    expect((await app.api("POST", `/jobs/${taskId}/refund`, { key: buyerA.apiKey })).status).toBe(200);
    const filed = await fileDispute(taskId, worker);

    const refused = await resolve(filed.body.dispute_id, { resolution: "overturn_to_worker" });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("DISPUTE_REFUND_ALREADY_SENT");
    // Nothing was written: the dispute is still open for another decision.
    const list = await app.api("GET", `/jobs/${taskId}/disputes`, { key: admin.apiKey });
    expect(list.body.disputes[0].status).toBe("open");
    expect(await app.db.transfer.count({ where: { jobId: taskId, kind: "payout" } })).toBe(0);
    expect((await resolve(filed.body.dispute_id, { resolution: "uphold" })).status).toBe(200);
  });

  it("overturn_to_worker on a funded job resolves it with that worker as winner; a buyer's dispute needs worker_id", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000007773";
    const worker = await app.registerAgent("overturn-live-worker", { wallet });
    const taskId = await createFundedJob(app, buyerB, "10");
    await submitJudged(taskId, worker, buyerB, false);
    const filed = await fileDispute(taskId, buyerB, { reason: "I failed it by mistake" });
    const missing = await resolve(filed.body.dispute_id, { resolution: "overturn_to_worker" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain("worker_id");

    const done = await resolve(filed.body.dispute_id, { resolution: "overturn_to_worker", worker_id: "overturn-live-worker" });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.job_status).toBe("resolved");
    await settled(taskId);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.api("GET", `/jobs/${taskId}`)).body.winner_id).toBe("overturn-live-worker");
  });

  it("refund_buyer returns the deposit to the buyer's wallet; the job ends refunded", async () => {
    const worker = await app.registerAgent("refund-worker");
    const taskId = await createFundedJob(app, buyerB, "10");
    await submitJudged(taskId, worker, buyerB, false);
    const filed = await fileDispute(taskId, buyerB, { reason: "nobody delivered" });
    const before = await app.balanceOf(buyerB.wallet!);

    const refunded = await resolve(filed.body.dispute_id, { resolution: "refund_buyer" });
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    expect(refunded.body.job_status).toBe("cancelled");
    expect(refunded.body.transfers).toHaveLength(1);
    expect(refunded.body.transfers[0]).toMatchObject({ kind: "refund", amount: "10", agent_id: "dispute-buyer-b" });

    await settled(taskId);
    expect((await app.balanceOf(buyerB.wallet!)) - before).toBe(parseUsdc("10"));
    await app.waitFor("refunded", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded");
    // It was the job's one refund: the buyer cannot take it a second time.
    const second = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyerB.apiKey });
    expect(second.status).toBe(409);
    expect((await app.balanceOf(buyerB.wallet!)) - before).toBe(parseUsdc("10"));
    // Nor can a worker's later overturn pay out what went back.
    const late = await fileDispute(taskId, worker);
    expect((await resolve(late.body.dispute_id, { resolution: "overturn_to_worker" })).body.error.code).toBe("DISPUTE_REFUND_ALREADY_SENT");
  });

  it("refund_buyer after a winner was paid refunds the price from the operations wallet; the job stays resolved", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000008881";
    const worker = await app.registerAgent("paid-worker", { wallet });
    const taskId = await createFundedJob(app, buyerB, "10");
    await submitJudged(taskId, worker, buyerB, true);
    await settled(taskId);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    const filed = await fileDispute(taskId, buyerB, { reason: "the result is plagiarised" });
    const before = await app.balanceOf(buyerB.wallet!);

    const refunded = await resolve(filed.body.dispute_id, { resolution: "refund_buyer" });
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    expect(refunded.body.job_status).toBe("resolved");
    expect(refunded.body.transfers[0]).toMatchObject({ kind: "refund", amount: "10" });
    await settled(taskId);
    expect((await app.balanceOf(buyerB.wallet!)) - before).toBe(parseUsdc("10"));
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    expect((await app.api("GET", `/jobs/${taskId}`)).body.status).toBe("resolved");
  });

  it("refund_buyer after a payout also returns an overpayment not yet returned, and closes refund-excess", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000008882";
    const worker = await app.registerAgent("paid-worker-2", { wallet });
    const taskId = await createFundedJob(app, buyerB, "10", {}, "13");
    expect((await app.api("GET", `/jobs/${taskId}`)).body.deposit_amount).toBe("13");
    await submitJudged(taskId, worker, buyerB, true);
    await settled(taskId);
    const filed = await fileDispute(taskId, buyerB, { reason: "the result is plagiarised" });
    const before = await app.balanceOf(buyerB.wallet!);

    const refunded = await resolve(filed.body.dispute_id, { resolution: "refund_buyer" });
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    expect(refunded.body.transfers[0]).toMatchObject({ kind: "refund", amount: "13" });
    await settled(taskId);
    expect((await app.balanceOf(buyerB.wallet!)) - before).toBe(parseUsdc("13"));
    const excess = await app.api("POST", `/jobs/${taskId}/refund-excess`, { key: buyerB.apiKey });
    expect(excess.status).toBe(409);
    expect(excess.body.error.code).toBe("ALREADY_REFUNDED");
    expect((await app.balanceOf(buyerB.wallet!)) - before).toBe(parseUsdc("13"));
  });

  it("two concurrent resolutions of one dispute pay once", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000009991";
    const worker = await app.registerAgent("race-worker", { wallet });
    const taskId = await createFundedJob(app, buyerB, "10");
    await submitJudged(taskId, worker, buyerB, false);
    const filed = await fileDispute(taskId, worker);

    const results = await Promise.all([
      resolve(filed.body.dispute_id, { resolution: "overturn_to_worker" }),
      resolve(filed.body.dispute_id, { resolution: "overturn_to_worker" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.code).toBe("DISPUTE_NOT_OPEN");
    await settled(taskId);
    await new Promise((r) => setTimeout(r, 500));
    expect(await app.db.transfer.count({ where: { jobId: taskId, kind: "payout" } })).toBe(1);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });

  it("two disputes overturned to the same worker at once pay once", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000009992";
    const worker = await app.registerAgent("race-worker-2", { wallet });
    const taskId = await createFundedJob(app, buyerB, "10");
    const submissionId = await submitJudged(taskId, worker, buyerB, false);
    const byWorker = await fileDispute(taskId, worker);
    const byBuyer = await fileDispute(taskId, buyerB, { reason: "mine was wrong", submission_id: submissionId });

    const results = await Promise.all([
      resolve(byWorker.body.dispute_id, { resolution: "overturn_to_worker" }),
      resolve(byBuyer.body.dispute_id, { resolution: "overturn_to_worker" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.code).toBe("DISPUTE_WORKER_ALREADY_WON");
    await settled(taskId);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });
});

describe("the two doors", () => {
  it("lists the dispute endpoints in the OpenAPI document", async () => {
    const doc = await app.api("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/jobs/{task_id}/dispute", "/jobs/{task_id}/disputes", "/disputes", "/disputes/{dispute_id}/resolve"]));
  });

  it("serves the same procedures with the same rules", async () => {
    const worker = await app.registerAgent("trpc-worker");
    const taskId = await createFundedJob(app, buyerA, "5");
    await submitJudged(taskId, worker, buyerA, false);
    const filed = await fileDispute(taskId, worker);

    const trpc = (path: string, key: string, init: RequestInit = {}) =>
      fetch(`${app.baseUrl}/api/trpc/${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" } });
    const list = await trpc(`disputes.listForJob?input=${encodeURIComponent(JSON.stringify({ task_id: taskId }))}`, buyerA.apiKey);
    expect(list.status).toBe(200);
    expect((await list.json()).result.data.disputes[0].dispute_id).toBe(filed.body.dispute_id);

    const denied = await trpc("disputes.resolve", worker.apiKey, { method: "POST", body: JSON.stringify({ dispute_id: filed.body.dispute_id, resolution: "overturn_to_worker", note: "mine" }) });
    expect(denied.status).toBe(403);
    const ok = await trpc("disputes.resolve", admin.apiKey, { method: "POST", body: JSON.stringify({ dispute_id: filed.body.dispute_id, resolution: "uphold", note: "fine" }) });
    expect(ok.status).toBe(200);
    expect((await ok.json()).result.data.resolution).toBe("uphold");
  });
});
