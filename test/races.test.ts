import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { startFakeOpenAI, FAKE_MODEL_ID, type FakeOpenAI } from "./support/fake-openai-server";
import { createFundedJob } from "./support/jobs";

let app: TestApp;
let judge: FakeOpenAI;

beforeAll(async () => {
  judge = await startFakeOpenAI();
  judge.setBehaviour({ kind: "verdict", score: 90, verdict: "pass", reason: "Good" });
  app = await startTestApp({ oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID } });
});

afterAll(async () => {
  await app?.stop();
  await judge?.close();
});

describe("races", () => {
  it("20 agents claiming at once all get in, and nobody twice", async () => {
    const buyer = await app.registerAgent("race-buyer-1", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "5");
    const workers = await Promise.all(Array.from({ length: 20 }, (_, i) => app.registerAgent(`claimer-${i}`)));
    const claims = await Promise.all([
      ...workers.map((w) => app.api("POST", `/jobs/${taskId}/claim`, { key: w.apiKey })),
      // The first worker tries twice at the same moment.
      app.api("POST", `/jobs/${taskId}/claim`, { key: workers[0]!.apiKey }),
    ]);
    const statuses = claims.map((c) => c.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(1);
    const job = await app.api("GET", `/jobs/${taskId}`);
    expect(new Set(job.body.participants.map((p: { worker_id: string }) => p.worker_id)).size).toBe(20);
    expect(job.body.participants).toHaveLength(20);
  });

  it("one agent claiming 8 jobs at once gets all 8, with no deadlock", async () => {
    const buyer = await app.registerAgent("race-buyer-4", { wallet: true });
    const jobs: string[] = [];
    for (let i = 0; i < 8; i++) jobs.push(await createFundedJob(app, buyer, "2"));
    const busy = await app.registerAgent("busy-worker");
    const claims = await Promise.all(jobs.map((id) => app.api("POST", `/jobs/${id}/claim`, { key: busy.apiKey })));
    expect(claims.map((c) => c.status)).toEqual(Array(8).fill(200));
    expect((await app.api("GET", "/agents/busy-worker")).body.jobs_claimed).toBe(8);
  });

  it("10 passing submissions landing at once make one winner and one payout", async () => {
    const buyer = await app.registerAgent("race-buyer-2", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "10");
    const wallets = Array.from({ length: 10 }, (_, i) => `0x${(0xc0ffee00 + i).toString(16).padStart(40, "0")}` as `0x${string}`);
    const workers = await Promise.all(wallets.map((w, i) => app.registerAgent(`racer-${i}`, { wallet: w })));
    for (const w of workers) expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: w.apiKey })).status).toBe(200);

    // The judge answers after a moment, so all ten deliveries are in before any verdict.
    judge.setBehaviour({ kind: "delay", ms: 700, then: { kind: "verdict", score: 90, verdict: "pass", reason: "Good" } });
    const submits = await Promise.all(workers.map((w) => app.api("POST", `/jobs/${taskId}/submit`, { key: w.apiKey, body: { content: `answer from ${w.agentId}` } })));
    expect(submits.map((s) => s.status)).toEqual(Array(10).fill(202));

    const job = await app.waitFor("resolved and paid", async () => {
      const j = await app.api("GET", `/jobs/${taskId}`);
      return j.body.status === "resolved" && j.body.payout_status === "success" && j.body.transfers.every((t: { status: string }) => t.status === "success") ? j.body : null;
    });
    // Every submission is decided; exactly one is the winner.
    const all = await app.waitFor("all judged", async () => {
      const list = await app.api("GET", `/jobs/${taskId}/submissions`);
      return list.body.submissions.every((s: { status: string }) => s.status !== "judging") ? list.body.submissions : null;
    });
    expect(all).toHaveLength(10);
    const payouts = job.transfers.filter((t: { kind: string }) => t.kind === "payout");
    expect(payouts).toHaveLength(1);
    expect(job.transfers.filter((t: { kind: string }) => t.kind === "fee")).toHaveLength(1);
    const balances = await Promise.all(wallets.map((w) => app.balanceOf(w)));
    expect(balances.filter((b) => b > 0n)).toEqual([parseUsdc("8")]);
    const winnerIndex = balances.findIndex((b) => b > 0n);
    expect(job.winner_id).toBe(`racer-${winnerIndex}`);
  });

  it("two refunds at once send one transfer", async () => {
    const buyer = await app.registerAgent("race-buyer-3", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "6");
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey })).status).toBe(200);
    const before = await app.balanceOf(buyer.wallet!);
    const [a, b] = await Promise.all([
      app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey }),
      app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    await app.mine(2);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("6"));
    const refunds = await app.db.transfer.findMany({ where: { jobId: taskId, kind: "refund" } });
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.status).toBe("success");
  });
});
