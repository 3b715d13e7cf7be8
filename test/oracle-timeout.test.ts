import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { startFakeOpenAI, FAKE_MODEL_ID, type FakeOpenAI } from "./support/fake-openai-server";
import { createFundedJob } from "./support/jobs";

// A judge that answers "pass" only after 2.5 s, against an oracle timeout of 1 s.
let app: TestApp;
let judge: FakeOpenAI;

beforeAll(async () => {
  judge = await startFakeOpenAI();
  judge.setBehaviour((body: any) =>
    JSON.stringify(body.messages).includes("HANG") ? { kind: "hang" } : { kind: "delay", ms: 2500, then: { kind: "verdict", score: 99, verdict: "pass", reason: "late pass" } },
  );
  app = await startTestApp({ oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID }, oracleTimeoutSeconds: 1, adminAgentIds: ["timeout-admin"] });
});

afterAll(async () => {
  await app?.stop();
  await judge?.close();
});

describe("oracle timeout", () => {
  it("fails a slow evaluation with 'Evaluation timed out' and ignores the late answer", async () => {
    const buyer = await app.registerAgent("slow-buyer", { wallet: true });
    const worker = await app.registerAgent("slow-worker", { wallet: "0x000000000000000000000000000000000000beef" });
    const taskId = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "slow but fine" } });

    const failed = await app.waitFor("timed out", async () => {
      const s = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: worker.apiKey });
      return s.body.status === "failed" ? s.body : null;
    });
    expect(failed.oracle_reason).toBe("Evaluation timed out");

    // Long after the judge would have answered "pass", nothing has changed.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: worker.apiKey });
    expect(later.body.status).toBe("failed");
    expect(later.body.oracle_reason).toBe("Evaluation timed out");
    const job = await app.api("GET", `/jobs/${taskId}`);
    expect(job.body.status).toBe("claimed");
    expect(job.body.winner_id).toBeNull();
    // A verdict arriving after the timeout is refused too.
    const lateVerdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "late" } });
    expect(lateVerdict.status).toBe(409);
  });

  it("with a model configured, the buyer may accept early but only an admin may fail", async () => {
    const buyer = await app.registerAgent("early-buyer", { wallet: true });
    const worker = await app.registerAgent("early-worker", { wallet: "0x000000000000000000000000000000000000cafe" });
    await app.registerAgent("timeout-admin");
    const taskId = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    // The stopped runner keeps this submission judging while we act on it.
    const restart = await app.stopRunner();
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "HANG please" } });
    expect(sub.status).toBe(202);

    const buyerFails = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: false, reason: "no" } });
    expect(buyerFails.status).toBe(403);
    const workerVerdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: worker.apiKey, body: { passed: true, reason: "mine" } });
    expect(workerVerdict.status).toBe(403);
    const accept = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "good enough" } });
    expect(accept.status).toBe(200);
    expect(accept.body.won).toBe(true);
    await restart();
    await app.waitFor("paid", async () => (await app.api("GET", `/jobs/${taskId}`)).body.payout_status === "success");
  });
});
