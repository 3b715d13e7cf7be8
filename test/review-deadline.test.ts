import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Manual review has a deadline: REVIEW_DEADLINE_HOURS after a delivery waiting for a person was
// made, it goes to the admin review queue (GET /admin/reviews, with a review_overdue event on the
// job). The clock never passes or fails it, and a job with a delivery awaiting a verdict is not
// refunded because nobody judged it. The admin's verdict then decides: a pass resolves and pays,
// a fail lets the expired job refund by itself.
let app: TestApp;
let admin: { agentId: string; apiKey: string };

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["review-admin"], extraEnv: { REVIEW_DEADLINE_HOURS: "72" } });
  admin = await app.registerAgent("review-admin");
});

afterAll(async () => {
  await app?.stop();
});

async function sweep() {
  const { sweepUnfinishedWork } = await import("~/server/jobs/functions/sweep");
  return sweepUnfinishedWork({ staleAfterMs: 3_600_000 });
}

/** A funded, claimed job with one delivery waiting for manual review (its checks recorded). */
async function jobAwaitingReview(name: string, workerWallet?: `0x${string}`) {
  const buyer = await app.registerAgent(`${name}-buyer`, { wallet: true });
  const worker = await app.registerAgent(`${name}-worker`, workerWallet ? { wallet: workerWallet } : {});
  const taskId = await createFundedJob(app, buyer, "10");
  expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "please review" } });
  expect(sub.body.oracle_mode).toBe("manual");
  const submissionId = sub.body.submission_id as string;
  await app.waitFor("checks recorded", async () => ((await app.db.submission.findUniqueOrThrow({ where: { id: submissionId } })).oracleSteps as unknown[]).length > 0);
  return {
    buyer,
    worker,
    taskId,
    submissionId,
    /** As if the delivery had been made this long ago. */
    age: (ms: number) => app.db.submission.update({ where: { id: submissionId }, data: { createdAt: new Date(Date.now() - ms) } }),
    /** The job's expiry passes (after the delivery was made, as it must have been). */
    expire: () => app.db.job.update({ where: { id: taskId }, data: { expiry: new Date(Math.floor(Date.now() / 1000) * 1000 - 1000) } }),
  };
}

const refundsOf = (taskId: string) => app.db.transfer.findMany({ where: { jobId: taskId, kind: "refund" } });
const overdueEvents = async (taskId: string) => (await app.db.jobEvent.findMany({ where: { jobId: taskId, kind: "review_overdue" } })).length;

describe("the manual review deadline", () => {
  it("shows when the verdict is due, and until then the queue is empty and nothing happens", async () => {
    const { taskId, submissionId } = await jobAwaitingReview("review-due");
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    const made = Date.parse((await app.api("GET", `/submissions/${submissionId}`)).body.created_at);
    expect(job.status).toBe("claimed");
    expect(job.deadlines).toEqual({
      claim_until: new Date(job.expiry * 1000).toISOString(),
      submit_until: new Date(job.expiry * 1000).toISOString(),
      judged_by: new Date(made + 72 * 3_600_000).toISOString(),
      judging: [{ submission_id: submissionId, rule: "manual_review", judged_by: new Date(made + 72 * 3_600_000).toISOString(), overdue: false }],
      disputable_until: null,
    });
    await sweep();
    expect(await overdueEvents(taskId)).toBe(0);
    const queue = await app.api("GET", "/admin/reviews", { key: admin.apiKey });
    expect(queue.body.reviews.map((r: { submission_id: string }) => r.submission_id)).not.toContain(submissionId);
  });

  it("past the deadline the delivery goes to the admin queue with one event, is neither refunded nor passed, and an admin's pass resolves and pays", async () => {
    const wallet = "0x0000000000000000000000000000000000007701" as const;
    const { buyer, taskId, submissionId, age, expire } = await jobAwaitingReview("review-pass", wallet);
    await expire();
    await age(72 * 3_600_000 + 60_000);
    await sweep();
    await sweep();
    expect(await overdueEvents(taskId)).toBe(1);
    const event = (await app.api("GET", `/jobs/${taskId}/events`, { key: buyer.apiKey })).body.events.find((e: { kind: string }) => e.kind === "review_overdue");
    expect(event).toMatchObject({ actor: "system", data: { submission_id: submissionId, worker_id: "review-pass-worker", rule: "manual_review" } });
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job.status).toBe("expired");
    expect(job.deadlines.judging).toEqual([expect.objectContaining({ submission_id: submissionId, overdue: true, judged_by: event.data.judged_by })]);
    expect(await refundsOf(taskId)).toHaveLength(0);
    expect((await app.api("GET", `/submissions/${submissionId}`)).body.status).toBe("judging");

    const queue = await app.api("GET", "/admin/reviews?limit=200", { key: admin.apiKey });
    expect(queue.status).toBe(200);
    const listed = queue.body.reviews.find((r: { submission_id: string }) => r.submission_id === submissionId);
    expect(listed).toMatchObject({ task_id: taskId, job_status: "expired", buyer_id: "review-pass-buyer", worker_id: "review-pass-worker", attempt: 1, oracle_mode: "manual", rule: "manual_review", judged_by: event.data.judged_by });
    expect(listed.escalated_at).not.toBeNull();
    expect(queue.body.total).toBeGreaterThanOrEqual(1);
    // Admins only.
    expect((await app.api("GET", "/admin/reviews", { key: buyer.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/admin/reviews")).status).toBe(401);

    const verdict = await app.api("POST", `/submissions/${submissionId}/verdict`, { key: admin.apiKey, body: { passed: true, reason: "Late, but right" } });
    expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
    expect(verdict.body).toMatchObject({ status: "passed", won: true, judged_by: "admin:review-admin" });
    const resolved = await app.waitFor("resolved and paid", async () => {
      const res = await app.api("GET", `/jobs/${taskId}`);
      return res.body.status === "resolved" && res.body.payout_status === "success" ? res.body : null;
    });
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    await sweep();
    expect(await refundsOf(taskId)).toHaveLength(0);
    expect(resolved.deadlines).toMatchObject({ claim_until: null, judging: [], judged_by: null });
    expect(Date.parse(resolved.deadlines.disputable_until) - Date.parse(resolved.resolved_at)).toBe(72 * 3_600_000);
    expect((await app.api("GET", "/admin/reviews?limit=200", { key: admin.apiKey })).body.reviews.map((r: { submission_id: string }) => r.submission_id)).not.toContain(submissionId);
  });

  it("an admin's fail lets the expired job refund by itself", async () => {
    const { buyer, taskId, submissionId, age, expire } = await jobAwaitingReview("review-fail");
    await age(73 * 3_600_000);
    await expire();
    await sweep();
    expect(await refundsOf(taskId)).toHaveLength(0);
    const before = await app.balanceOf(buyer.wallet!);
    expect((await app.api("POST", `/submissions/${submissionId}/verdict`, { key: admin.apiKey, body: { passed: false, reason: "Wrong" } })).status).toBe(200);
    await sweep();
    await app.waitFor("refunded", async () => (await app.api("GET", `/jobs/${taskId}`)).body.status === "refunded");
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("10"));
  });

  it("an overdue delivery on a job that has not expired is queued too, and the job goes on", async () => {
    const { taskId, submissionId, age } = await jobAwaitingReview("review-live");
    await age(80 * 3_600_000);
    await sweep();
    expect(await overdueEvents(taskId)).toBe(1);
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job.status).toBe("claimed");
    expect(job.deadlines.claim_until).not.toBeNull();
    expect(job.deadlines.judging).toEqual([expect.objectContaining({ submission_id: submissionId, overdue: true })]);
  });
});
