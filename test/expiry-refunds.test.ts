import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { startFakeOpenAI, FAKE_MODEL_ID, type FakeOpenAI } from "./support/fake-openai-server";
import { createFundedJob } from "./support/jobs";

// Deadlines with a model judging: a job whose expiry passes refunds its buyer by itself, to the
// address that paid, with job.expired and job.refunded delivered; a delivery still being judged
// at the expiry is judged first (EXPIRY_JUDGING_GRACE_MINUTES), and one nobody judges in time
// goes to the admin review queue instead of being refunded.
let app: TestApp;
let judge: FakeOpenAI;
let receiver: http.Server;
let receiverUrl: string;
const received: { path: string; event: string; task_id: string }[] = [];

beforeAll(async () => {
  judge = await startFakeOpenAI();
  // Deliveries containing BAD fail; everything else passes.
  judge.setBehaviour((body) =>
    JSON.stringify(body).includes("BAD") ? { kind: "verdict", score: 10, verdict: "fail", reason: "Off topic" } : { kind: "verdict", score: 90, verdict: "pass", reason: "Fine" },
  );
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const json = JSON.parse(body) as { event: string; task_id: string };
      received.push({ path: req.url ?? "", event: json.event, task_id: json.task_id });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({ oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID }, adminAgentIds: ["expiry-admin"], extraEnv: { EXPIRY_JUDGING_GRACE_MINUTES: "30" } });
});

afterAll(async () => {
  await app?.stop();
  await judge?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

// Whole seconds, as expiries are given (the DTO's expiry is unix seconds).
const expireNow = (taskId: string, ago = 1_000) => app.db.job.update({ where: { id: taskId }, data: { expiry: new Date(Math.floor((Date.now() - ago) / 1000) * 1000) } });

async function sweep() {
  const { sweepUnfinishedWork } = await import("~/server/jobs/functions/sweep");
  // Not stale: leave judging submissions and unsent transfers to their own queued work.
  return sweepUnfinishedWork({ staleAfterMs: 3_600_000 });
}

async function eventKinds(taskId: string, key: string) {
  const res = await app.api("GET", `/jobs/${taskId}/events`, { key });
  return res.body.events as { kind: string; from_status: string | null; to_status: string | null; actor: string; reason: string | null; data: Record<string, unknown> | null }[];
}

const refundsOf = (taskId: string) => app.db.transfer.findMany({ where: { jobId: taskId, kind: "refund" } });

describe("expiry refunds by itself", () => {
  it("expires funded and claimed jobs through the sweep on pg-boss, refunds each to the address that paid, and delivers job.expired and job.refunded", async () => {
    const buyer = await app.registerAgent("auto-refund-buyer", { wallet: true });
    const worker = await app.registerAgent("auto-refund-worker");
    const hook = await app.api("POST", `/agents/${buyer.agentId}/webhooks`, { key: buyer.apiKey, body: { url: `${receiverUrl}/buyer`, events: ["job.expired", "job.refunded"] } });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const funded = await createFundedJob(app, buyer, "3");
    const claimed = await createFundedJob(app, buyer, "4");
    expect((await app.api("POST", `/jobs/${claimed}/claim`, { key: worker.apiKey })).status).toBe(200);
    // The buyer moves to another wallet after funding: the refunds still go where the money came from.
    const paidFrom = buyer.wallet!;
    expect((await app.api("PATCH", `/agents/${buyer.agentId}`, { key: buyer.apiKey, body: { wallet_address: "0x0000000000000000000000000000000000004444" } })).status).toBe(200);
    const before = await app.balanceOf(paidFrom);

    await expireNow(funded);
    await expireNow(claimed);
    // The sweep as pg-boss runs it: queued, picked up by the runner's worker.
    const { enqueue } = await import("~/server/jobs/client");
    await enqueue("sweep", {});

    for (const [taskId, from, price] of [[funded, "funded", "3"], [claimed, "claimed", "4"]] as const) {
      const job = await app.waitFor(`${from} job refunded`, async () => {
        const res = await app.api("GET", `/jobs/${taskId}`);
        return res.body.status === "refunded" ? res.body : null;
      });
      expect(job.refund_status).toBe("success");
      const refund = job.transfers.find((t: { kind: string }) => t.kind === "refund");
      expect(refund).toMatchObject({ to_address: paidFrom, amount: price, agent_id: buyer.agentId, status: "success" });
      const events = await eventKinds(taskId, buyer.apiKey);
      expect(events.filter((e) => ["expired", "refund_requested", "refunded"].includes(e.kind))).toEqual([
        expect.objectContaining({ kind: "expired", from_status: from, to_status: "expired", actor: "system", reason: "expiry passed" }),
        expect.objectContaining({ kind: "refund_requested", actor: "system", reason: "expiry passed", data: { amount: parseUsdc(price).toString() } }),
        expect.objectContaining({ kind: "refunded", from_status: "expired", to_status: "refunded", actor: "system" }),
      ]);
      // Nobody asked, and asking now finds the refund already made.
      const asked = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
      expect(asked.status).toBe(409);
      expect(asked.body.error.code).toBe("ALREADY_REFUNDED");
      expect(job.deadlines).toMatchObject({ claim_until: null, submit_until: null, judged_by: null, judging: [] });
      // Settled when the refund was confirmed: the dispute window runs from then.
      expect(Date.parse(job.deadlines.disputable_until) - Date.parse(refund.confirmed_at)).toBe(72 * 3_600_000);
      for (const event of ["job.expired", "job.refunded"]) {
        await app.waitFor(`${event} for the ${from} job`, async () => received.some((r) => r.path === "/buyer" && r.event === event && r.task_id === taskId));
      }
    }
    expect((await app.balanceOf(paidFrom)) - before).toBe(parseUsdc("7"));
    expect(await app.balanceOf("0x0000000000000000000000000000000000004444")).toBe(0n);
  });

  it("leaves an open (never funded) job expired with nothing to refund, and a cancelled job to its buyer", async () => {
    const buyer = await app.registerAgent("auto-refund-open-buyer", { wallet: true });
    const created = await app.api("POST", "/jobs", { key: buyer.apiKey, body: { title: "T", description: "D", rubric: "R", price: "2", expiry: Math.floor(Date.now() / 1000) + 3600 } });
    const cancelled = await createFundedJob(app, buyer, "2");
    expect((await app.api("POST", `/jobs/${cancelled}/cancel`, { key: buyer.apiKey })).status).toBe(200);
    await expireNow(created.body.task_id);
    await sweep();
    expect(await app.db.job.findUniqueOrThrow({ where: { id: created.body.task_id } })).toMatchObject({ status: "expired", depositAmount: null });
    expect(await refundsOf(created.body.task_id)).toHaveLength(0);
    // Cancelling is the buyer's own act, and so is asking for that refund.
    expect(await refundsOf(cancelled)).toHaveLength(0);
  });

  it("the buyer's POST /refund and the sweep racing for the same expired job record one refund", async () => {
    const buyer = await app.registerAgent("auto-refund-racer", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "5");
    await expireNow(taskId);
    const before = await app.balanceOf(buyer.wallet!);
    const [asked] = await Promise.all([app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey }), sweep()]);
    expect([200, 409]).toContain(asked.status);
    if (asked.status === 409) expect(asked.body.error.code).toBe("ALREADY_REFUNDED");
    await app.waitFor("refunded", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded");
    expect(await refundsOf(taskId)).toHaveLength(1);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("5"));
  });
});

describe("deliveries in judgment at expiry", () => {
  /** A claimed job with one delivery left judging: the runner is stopped, so nothing judges it yet. */
  async function jobWithDeliveryInJudgment(name: string, content: string, worker?: RegisteredAgent) {
    const buyer = await app.registerAgent(`${name}-buyer`, { wallet: true });
    const w = worker ?? (await app.registerAgent(`${name}-worker`));
    const taskId = await createFundedJob(app, buyer, "10");
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: w.apiKey })).status).toBe(200);
    const restart = await app.stopRunner();
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: w.apiKey, body: { content } });
    expect(sub.status).toBe(202);
    return {
      /** Expires the job after the delivery was made (whole seconds, as expiries are), `ago` ms ago at least. */
      async expire(ago = 0) {
        const expiry = Math.ceil((Date.parse(sub.body.created_at) + 1) / 1000) * 1000;
        while (Date.now() <= expiry) await new Promise((r) => setTimeout(r, 50));
        await app.db.job.update({ where: { id: taskId }, data: { expiry: new Date(expiry - ago) } });
      }, buyer, worker: w, taskId, submissionId: sub.body.submission_id as string, restart };
  }

  it("waits for the verdict: a pass inside the grace period wins the expired job and is paid, nothing is refunded", async () => {
    const wallet = "0x0000000000000000000000000000000000005501" as const;
    const worker = await app.registerAgent("grace-pass-worker", { wallet });
    const { buyer, taskId, submissionId, restart, expire } = await jobWithDeliveryInJudgment("grace-pass", "a GOOD answer", worker);
    await expire();
    await sweep();
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job.status).toBe("expired");
    expect(await refundsOf(taskId)).toHaveLength(0);
    const expiry = job.expiry * 1000;
    expect(job.deadlines).toMatchObject({ claim_until: null, submit_until: null, disputable_until: null });
    expect(job.deadlines.judging).toEqual([{ submission_id: submissionId, rule: "expiry_grace", judged_by: new Date(expiry + 30 * 60_000).toISOString(), overdue: false }]);
    expect(job.deadlines.judged_by).toBe(new Date(expiry + 30 * 60_000).toISOString());
    const early = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
    expect(early.body.error.code).toBe("JUDGING_IN_PROGRESS");

    // The runner comes back; its start-up sweep queues the delivery, the model passes it.
    await restart();
    const resolved = await app.waitFor("resolved", async () => {
      const res = await app.api("GET", `/jobs/${taskId}`);
      return res.body.status === "resolved" && res.body.payout_status === "success" ? res.body : null;
    });
    expect(resolved.winner_id).toBe("grace-pass-worker");
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    await sweep();
    expect(await refundsOf(taskId)).toHaveLength(0);
    expect(Date.parse(resolved.deadlines.disputable_until) - Date.parse(resolved.resolved_at)).toBe(72 * 3_600_000);
  });

  it("a fail inside the grace period leaves the job to be refunded by the next sweep", async () => {
    const { buyer, taskId, restart, expire } = await jobWithDeliveryInJudgment("grace-fail", "a BAD answer");
    await expire();
    await sweep();
    expect(await refundsOf(taskId)).toHaveLength(0);
    await restart();
    await app.waitFor("failed", async () => (await app.db.submission.count({ where: { jobId: taskId, status: "failed" } })) === 1);
    const before = await app.balanceOf(buyer.wallet!);
    await sweep();
    await app.waitFor("refunded", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded");
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("10"));
  });

  it("past the grace period an unjudged delivery goes to the admin queue, is never refunded by the clock, and an admin's fail lets the refund go", async () => {
    const { buyer, taskId, submissionId, restart, expire } = await jobWithDeliveryInJudgment("grace-over", "an answer nobody judges");
    await expire(31 * 60_000);
    await sweep();
    await sweep();
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job.status).toBe("expired");
    expect(job.deadlines.judging).toEqual([expect.objectContaining({ submission_id: submissionId, rule: "expiry_grace", overdue: true })]);
    expect(await refundsOf(taskId)).toHaveLength(0);
    const overdue = (await eventKinds(taskId, buyer.apiKey)).filter((e) => e.kind === "review_overdue");
    expect(overdue).toEqual([expect.objectContaining({ actor: "system", data: expect.objectContaining({ submission_id: submissionId, rule: "expiry_grace", judged_by: job.deadlines.judging[0].judged_by }) })]);

    const admin = await app.registerAgent("expiry-admin");
    const queue = await app.api("GET", "/admin/reviews", { key: admin.apiKey });
    expect(queue.status).toBe(200);
    expect(queue.body.reviews).toEqual(expect.arrayContaining([expect.objectContaining({ submission_id: submissionId, task_id: taskId, job_status: "expired", rule: "expiry_grace" })]));
    expect((await app.db.submission.findUniqueOrThrow({ where: { id: submissionId } })).status).toBe("judging");

    const verdict = await app.api("POST", `/submissions/${submissionId}/verdict`, { key: admin.apiKey, body: { passed: false, reason: "Not what was asked" } });
    expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
    expect((await app.api("GET", "/admin/reviews", { key: admin.apiKey })).body.reviews.map((r: { submission_id: string }) => r.submission_id)).not.toContain(submissionId);
    await sweep();
    expect(await refundsOf(taskId)).toHaveLength(1);
    // Recorded while no runner ran: the restarted runner's start-up sweep sends it.
    const before = await app.balanceOf(buyer.wallet!);
    await restart();
    await app.waitFor("refunded", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded");
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("10"));
  });
});
