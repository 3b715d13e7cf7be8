import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// No model configured: the oracle runs its deterministic checks and then waits for a person.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["manual-admin"] });
});

afterAll(async () => {
  await app?.stop();
});

describe("manual review", () => {
  it("keeps the submission judging with its checks until the buyer passes it, then pays", async () => {
    const buyer = await app.registerAgent("manual-buyer", { wallet: true });
    const wallet = "0x0000000000000000000000000000000000001111" as const;
    const worker = await app.registerAgent("manual-worker", { wallet });
    const taskId = await createFundedJob(app, buyer, "10");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "please review" } });
    expect(sub.body.oracle_mode).toBe("manual");

    const waiting = await app.waitFor("deterministic checks recorded", async () => {
      const s = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: buyer.apiKey });
      return s.body.oracle_steps.length > 0 ? s.body : null;
    });
    expect(waiting.status).toBe("judging");
    expect(waiting.oracle_steps.map((s: { name: string }) => s.name)).toEqual(["size_check", "artifact_type_check", "manual_review"]);
    expect(waiting.content).toBe("please review");

    // A stranger sees step names and results only, and no content.
    const stranger = await app.registerAgent("manual-stranger");
    const redacted = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: stranger.apiKey });
    expect(redacted.body.content).toBeNull();
    expect(redacted.body.oracle_steps[0]).toEqual({ name: "size_check", passed: true });
    expect((await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: stranger.apiKey, body: { passed: true, reason: "x" } })).status).toBe(403);

    const badVerdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: "yes" } });
    expect(badVerdict.status).toBe(400);
    expect(badVerdict.body.error.message).toContain("passed");

    const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, score: 88, reason: "Does the job" } });
    expect(verdict.status).toBe(200);
    expect(verdict.body).toMatchObject({ status: "passed", oracle_score: 88, judged_by: "buyer:manual-buyer", won: true });
    await app.waitFor("paid", async () => (await app.balanceOf(wallet)) === parseUsdc("8"));
    // The transfer lands on chain a moment before the app records its receipt.
    const job = await app.waitFor("payout recorded", async () => {
      const res = await app.api("GET", `/jobs/${taskId}`);
      return res.body.payout_status === "success" ? res : null;
    });
    expect(job.body).toMatchObject({ status: "resolved", winner_id: "manual-worker", payout_status: "success" });
  });

  it("lets an admin fail a submission, and records a skipped payout for a worker without a wallet", async () => {
    const buyer = await app.registerAgent("manual-buyer-2", { wallet: true });
    const admin = await app.registerAgent("manual-admin");
    const worker = await app.registerAgent("walletless-worker");
    const taskId = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const first = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "first" } });
    const failed = await app.api("POST", `/submissions/${first.body.submission_id}/verdict`, { key: admin.apiKey, body: { passed: false, reason: "Off topic" } });
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ status: "failed", judged_by: "admin:manual-admin", won: false });

    const second = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "second" } });
    expect((await app.api("POST", `/submissions/${second.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "ok" } })).status).toBe(200);
    const job = await app.waitFor("resolved", async () => {
      const j = await app.api("GET", `/jobs/${taskId}`);
      return j.body.status === "resolved" && j.body.transfers.every((t: { status: string }) => t.status === "success" || t.status === "skipped") ? j.body : null;
    });
    expect(job.payout_status).toBe("skipped");
    expect(job.transfers.find((t: { kind: string }) => t.kind === "payout").error).toMatch(/no wallet/);
    expect(job.transfers.find((t: { kind: string }) => t.kind === "fee").status).toBe("success");
  });
});

describe("crash recovery", () => {
  it("evaluates a submission left judging while no runner was up, once a runner starts", async () => {
    const buyer = await app.registerAgent("recovery-buyer", { wallet: true });
    const worker = await app.registerAgent("recovery-worker");
    const taskId = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const restart = await app.stopRunner();
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "during the outage" } });
    expect(sub.status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    const stuck = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: worker.apiKey });
    expect(stuck.body.oracle_steps).toEqual([]);

    await restart();
    const picked = await app.waitFor("picked up after restart", async () => {
      const s = await app.api("GET", `/submissions/${sub.body.submission_id}`, { key: worker.apiKey });
      return s.body.oracle_steps.length > 0 ? s.body : null;
    });
    expect(picked.oracle_steps.map((s: { name: string }) => s.name)).toContain("manual_review");
  });

  it("resends a transfer whose signed bytes were stored but never broadcast, without paying twice", async () => {
    const buyer = await app.registerAgent("crash-buyer", { wallet: true });
    const wallet = "0x0000000000000000000000000000000000002222" as const;
    const worker = await app.registerAgent("crash-worker", { wallet });
    const taskId = await createFundedJob(app, buyer, "10");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const restart = await app.stopRunner();
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "x" } });
    await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "ok" } });

    // Simulate a crash right after signing: the row holds signed bytes, nothing was broadcast.
    const { getChain } = await import("~/server/chain/chain");
    const chain = getChain();
    const payout = await app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "payout" } });
    const nonce = await chain.getPendingNonce();
    const signed = await chain.signUsdcTransfer({ to: wallet, amount: payout.amount, nonce });
    await app.db.transfer.update({ where: { id: payout.id }, data: { status: "sent", signedTx: signed.signedTx, txHash: signed.txHash, nonce } });

    await restart();
    await app.waitFor("payout confirmed", async () => (await app.db.transfer.findUniqueOrThrow({ where: { id: payout.id } })).status === "success");
    const after = await app.db.transfer.findUniqueOrThrow({ where: { id: payout.id } });
    expect(after.txHash).toBe(signed.txHash);
    // Let any further sweep run: the balance moved exactly once.
    const { sweepUnfinishedWork } = await import("~/server/jobs/functions/sweep");
    await sweepUnfinishedWork({ staleAfterMs: 0 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });

  it("shows in /health how long ready background work has waited, and degrades when nothing picks it up", async () => {
    const healthy = await app.api("GET", "/health");
    expect(healthy.body.checks.background_runner).toMatchObject({ ok: true });
    expect(healthy.body.checks.background_runner.detail).toMatch(/oldest ready \d+ s ago/);

    // No worker is running, and a sweep has been ready to run for two minutes.
    const restart = await app.stopRunner();
    await app.db.$executeRaw`
      INSERT INTO pgboss.job (name, data, state, start_after, created_on)
      VALUES ('maintenance.sweep', '{}'::jsonb, 'created', now() - interval '2 minutes', now() - interval '2 minutes')`;
    const stalled = await app.api("GET", "/health");
    expect(stalled.body.status).toBe("degraded");
    expect(stalled.body.checks.background_runner.ok).toBe(false);
    expect(stalled.body.checks.background_runner.detail).toMatch(/oldest ready 1[2-9]\d s ago\), .*nothing has been picked up for over 60 s/);

    await restart();
    await app.waitFor("the waiting sweep picked up", async () => (await app.api("GET", "/health")).body.checks.background_runner.ok === true);
  });

  it("drops work leases left by dead processes once their work has had a minute to be retried", async () => {
    await app.db.$executeRaw`
      INSERT INTO work_leases (key, instance_id, started_at) VALUES
        ('payouts.send-transfer:old-orphan', 'dead-instance', now() AT TIME ZONE 'UTC' - interval '5 minutes'),
        ('payouts.send-transfer:new-orphan', 'dead-instance', now() AT TIME ZONE 'UTC')`;
    const { sweepUnfinishedWork } = await import("~/server/jobs/functions/sweep");
    const swept = await sweepUnfinishedWork();
    expect(swept.deadLeases).toBe(1);
    const left = await app.db.workLease.findMany({ where: { instanceId: "dead-instance" } });
    expect(left.map((l) => l.key)).toEqual(["payouts.send-transfer:new-orphan"]);
  });

  it("keeps serving when the database closes its connections (a restart, an admin's kill)", async () => {
    const buyer = await app.registerAgent("disconnect-buyer");
    // Warm every pool: Prisma (registration), the plain pg pool (lists, key lookups).
    expect((await app.api("GET", "/jobs?limit=1", { key: buyer.apiKey })).status).toBe(200);
    const killed = await app.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`;
    expect(Number(killed[0]!.n)).toBeGreaterThan(0);
    // Each pool notices on its next use, drops the dead connection and opens a new one.
    await app.waitFor("API answers again", async () => (await app.api("GET", "/jobs?limit=1", { key: buyer.apiKey })).status === 200);
    const created = await app.api("POST", "/jobs", { key: buyer.apiKey, body: { title: "After", description: "D", rubric: "R", price: "2", expiry: Math.floor(Date.now() / 1000) + 3600 } });
    expect(created.status).toBe(201);
  });
});
