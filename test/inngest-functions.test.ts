import { InngestTestEngine } from "@inngest/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { startFakeOpenAI, FAKE_MODEL_ID, type FakeOpenAI } from "./support/fake-openai-server";
import { createFundedJob } from "./support/jobs";

// The same background function definitions, run the way Inngest runs them (step by step,
// through the Inngest SDK), against the real database and chain.
let app: TestApp;
let judge: FakeOpenAI;

beforeAll(async () => {
  judge = await startFakeOpenAI();
  judge.setBehaviour({ kind: "verdict", score: 77, verdict: "pass", reason: "Fine", criteria: [{ criterion: "Mentions the finding", passed: true, reasoning: "yes" }] });
  app = await startTestApp({ oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID } });
});

afterAll(async () => {
  await app?.stop();
  await judge?.close();
});

describe("background functions on Inngest", () => {
  it("evaluates a submission through named steps and resolves the job", async () => {
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { evaluateSubmissionFunction } = await import("~/server/jobs/functions/evaluate-submission");
    const buyer = await app.registerAgent("inngest-buyer", { wallet: true });
    const worker = await app.registerAgent("inngest-worker", { wallet: "0x0000000000000000000000000000000000003333" });
    const taskId = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    // Keep pg-boss out of it: the submission is evaluated only by the Inngest run below.
    const restart = await app.stopRunner();
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "an answer" } });

    const engine = new InngestTestEngine({
      function: toInngestFunction(evaluateSubmissionFunction as never),
      events: [{ name: "oracle/evaluate-submission", data: { submissionId: sub.body.submission_id } }],
    });
    const { result, ctx } = await engine.execute();
    expect(result).toMatchObject({ outcome: "passed", applied: true, won: true });
    const stepNames = (ctx.step.run as unknown as { mock: { calls: unknown[][] } }).mock.calls.map((c) => c[0]);
    expect(stepNames).toEqual(["load-submission", "evaluate", "record-verdict"]);

    const stored = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: worker.apiKey });
    expect(stored.body).toMatchObject({ status: "passed", oracle_score: 77 });
    expect((await app.api("GET", `/jobs/${taskId}`)).body.winner_id).toBe("inngest-worker");

    // A second delivery of the same event changes nothing.
    const again = await new InngestTestEngine({
      function: toInngestFunction(evaluateSubmissionFunction as never),
      events: [{ name: "oracle/evaluate-submission", data: { submissionId: sub.body.submission_id } }],
    }).execute();
    expect(again.result).toEqual({ skipped: "not judging" });
    await restart();
  });

  it("the sweep expires a funded job and refunds its buyer, and sendTransfer sends the refund until it is final", async () => {
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { sweepFunction } = await import("~/server/jobs/functions/sweep");
    const { sendTransferFunction } = await import("~/server/jobs/functions/send-transfer");
    const buyer = await app.registerAgent("inngest-expiry-buyer", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "6");
    // Only the Inngest runs below do anything: no pg-boss worker, no cron.
    const restart = await app.stopRunner();
    await app.db.job.update({ where: { id: taskId }, data: { expiry: new Date(Date.now() - 1_000) } });
    const before = await app.balanceOf(buyer.wallet!);

    const swept = await new InngestTestEngine({ function: toInngestFunction(sweepFunction as never), events: [{ name: "inngest/scheduled.timer", data: {} }] }).execute();
    expect(swept.error).toBeUndefined();
    expect(swept.result).toMatchObject({ expired: 1, expiryRefunds: 1 });
    const refund = await app.db.transfer.findUniqueOrThrow({ where: { idempotencyKey: `refund:${taskId}` } });
    expect(refund).toMatchObject({ kind: "refund", status: "pending", toAddress: buyer.wallet, amount: 6_000_000n });

    // The enqueue had nowhere to go: send it as Inngest would, retrying until it is final.
    await app.waitFor("refund final", async () => {
      const run = await new InngestTestEngine({ function: toInngestFunction(sendTransferFunction as never), events: [{ name: "payouts/send-transfer", data: { transferId: refund.id } }] }).execute();
      return (run.result as { status?: string } | undefined)?.status === "success";
    }, 60_000);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(6_000_000n);
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job).toMatchObject({ status: "refunded", refund_status: "success" });
    const kinds = (await app.api("GET", `/jobs/${taskId}/events`, { key: buyer.apiKey })).body.events.map((e: { kind: string }) => e.kind);
    expect(kinds.slice(-3)).toEqual(["expired", "refund_requested", "refunded"]);
    // A second sweep finds nothing more to do.
    const again = await new InngestTestEngine({ function: toInngestFunction(sweepFunction as never), events: [{ name: "inngest/scheduled.timer", data: {} }] }).execute();
    expect(again.result).toMatchObject({ expired: 0, expiryRefunds: 0 });
    await restart();
  });

  it("rejects an event whose payload does not match the function's schema", async () => {
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { sendTransferFunction } = await import("~/server/jobs/functions/send-transfer");
    const { error } = await new InngestTestEngine({
      function: toInngestFunction(sendTransferFunction as never),
      events: [{ name: "payouts/send-transfer", data: { transferId: "not-a-uuid" } }],
    }).execute();
    expect(String((error as Error | undefined)?.message ?? error)).toMatch(/transferId/);
  });
});
