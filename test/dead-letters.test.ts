import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Dead letters: background work that used all its attempts, listed for admins with requeue and
// discard, and counted by /health. The failures here are real: the runner runs a background
// function whose payload points at a transfer that does not exist, and it throws every attempt.

let app: TestApp;
let admin: RegisteredAgent;
let stranger: RegisteredAgent;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["dl-admin"] });
  admin = await app.registerAgent("dl-admin");
  stranger = await app.registerAgent("dl-stranger");
});

afterAll(async () => {
  await app?.stop();
});

async function setEnv(values: Record<string, string>) {
  Object.assign(process.env, values);
  (await import("~/env")).resetEnv();
}

/**
 * Queues sendTransfer for `transferId` as the app's client does (the request id beside the
 * payload), with one retry instead of nine so that it gives up within seconds, and waits until
 * pg-boss has marked it failed.
 */
async function failForGood(transferId: string, requestId: string): Promise<string> {
  const { startPgBossRunner } = await import("~/server/jobs/pg-boss-runner");
  const { boss } = await startPgBossRunner({ databaseUrl: process.env.DATABASE_URL! });
  const id = await boss.send("payouts.send-transfer", { transferId, _context: { requestId } }, { singletonKey: transferId, retryLimit: 1, retryDelay: 1, retryBackoff: false });
  expect(id).toBeTruthy();
  await app.waitFor("the job failed for good", async () => {
    const [row] = await app.db.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM pgboss.job WHERE id = ${id}::uuid`;
    return row?.state === "failed";
  }, 30_000);
  return id!;
}

describe("dead letters", () => {
  it("lists work that failed every attempt for admins only, degrades /health past the threshold, and requeues it once its cause is fixed", async () => {
    const buyer = await app.registerAgent("dl-buyer", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "3");
    const transferId = randomUUID();
    const deadLetterId = await failForGood(transferId, "caused-by-req-1");

    // Admins see it: which function, what it was given, the request that queued it, why it failed.
    const listed = await app.api("GET", "/admin/dead-letters", { key: admin.apiKey });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body).toMatchObject({ runner: "pg-boss", total: 1, note: null });
    expect(listed.body.dead_letters[0]).toMatchObject({
      dead_letter_id: deadLetterId,
      function: "sendTransfer",
      queue: "payouts.send-transfer",
      payload: { transferId },
      request_id: "caused-by-req-1",
      attempts: 2,
      singleton_key: transferId,
    });
    expect(listed.body.dead_letters[0].error).toContain(`transfer ${transferId} not found`);
    expect(listed.body.dead_letters[0].failed_at).toEqual(expect.any(String));
    expect((await app.api("GET", "/admin/dead-letters?function=sweep", { key: admin.apiKey })).body).toMatchObject({ total: 0, dead_letters: [] });

    // Nobody else does.
    expect((await app.api("GET", "/admin/dead-letters", { key: stranger.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/admin/dead-letters")).status).toBe(401);
    expect((await app.api("POST", `/admin/dead-letters/${deadLetterId}/requeue`, { key: stranger.apiKey })).status).toBe(403);
    expect((await app.api("POST", `/admin/dead-letters/${deadLetterId}/discard`, { key: buyer.apiKey })).status).toBe(403);

    // One dead letter is past the default threshold (0); with HEALTH_DEAD_LETTER_THRESHOLD=1 it is not.
    const degraded = await app.api("GET", "/health");
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe("degraded");
    expect(degraded.body.checks.background_runner).toMatchObject({ ok: false });
    expect(degraded.body.checks.background_runner.detail).toContain("1 dead letters, over HEALTH_DEAD_LETTER_THRESHOLD (0)");
    await setEnv({ HEALTH_DEAD_LETTER_THRESHOLD: "1" });
    try {
      const tolerated = await app.api("GET", "/health");
      expect(tolerated.body.checks.background_runner).toMatchObject({ ok: true });
      expect(tolerated.body.checks.background_runner.detail).toContain("1 dead letters");
    } finally {
      await setEnv({ HEALTH_DEAD_LETTER_THRESHOLD: "" });
    }

    // The cause is fixed (the transfer it names is recorded: a refund of the buyer's deposit), so
    // the requeued work now sends it, exactly once.
    const before = await app.balanceOf(buyer.wallet!);
    await app.db.transfer.create({ data: { id: transferId, jobId: taskId, kind: "refund", idempotencyKey: `dead-letter-test:${transferId}`, agentId: buyer.agentId, toAddress: buyer.wallet!, amount: 3_000_000n } });
    // Two admins press requeue at once: one wins, the other is told it is already requeued.
    const [first, second] = await Promise.all([
      app.api("POST", `/admin/dead-letters/${deadLetterId}/requeue`, { key: admin.apiKey }),
      app.api("POST", `/admin/dead-letters/${deadLetterId}/requeue`, { key: admin.apiKey }),
    ]);
    const statuses = [first.status, second.status].sort();
    expect(statuses, JSON.stringify([first.body, second.body])).toEqual([200, 409]);
    const won = first.status === 200 ? first : second;
    const lost = first.status === 200 ? second : first;
    expect(won.body).toMatchObject({ dead_letter_id: deadLetterId, function: "sendTransfer", payload: { transferId }, request_id: "caused-by-req-1", error: null });
    expect(lost.body.error).toMatchObject({ code: "DEAD_LETTER_NOT_FAILED" });

    const sent = await app.waitFor("the requeued transfer final", async () => (await app.db.transfer.findUnique({ where: { id: transferId } }))?.status === "success", 60_000);
    expect(sent).toBe(true);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(3_000_000n);
    // The same pg-boss job ran it, to completion, and it is off the list; health is ok again.
    // (pg-boss records the completion a moment after the handler returns.)
    const state = await app.waitFor("the requeued job completed", async () => {
      const [job] = await app.db.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM pgboss.job WHERE id = ${deadLetterId}::uuid`;
      return job?.state === "completed" ? job.state : null;
    });
    expect(state).toBe("completed");
    expect((await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body).toMatchObject({ total: 0, dead_letters: [] });
    expect((await app.api("GET", "/health")).body.checks.background_runner).toMatchObject({ ok: true });

    // Requeued again later: the transfer is final, so nothing is sent twice.
    expect((await app.api("POST", `/admin/dead-letters/${deadLetterId}/requeue`, { key: admin.apiKey })).status).toBe(409);
    expect((await app.api("POST", `/admin/dead-letters/${randomUUID()}/requeue`, { key: admin.apiKey })).body.error).toMatchObject({ code: "DEAD_LETTER_NOT_FOUND" });
    expect((await app.api("POST", "/admin/dead-letters/not-a-uuid/requeue", { key: admin.apiKey })).status).toBe(400);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(3_000_000n);
  });

  it("a requeued dead letter that fails again comes back; a discarded one leaves the list and /health", async () => {
    const missing = randomUUID();
    const id = await failForGood(missing, "caused-by-req-2");
    const failedAt = (await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body.dead_letters[0].failed_at as string;
    const requeued = await app.api("POST", `/admin/dead-letters/${id}/requeue`, { key: admin.apiKey });
    expect(requeued.status).toBe(200);
    expect((await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body).toMatchObject({ total: 0 });
    // Still nothing to send: it runs all its attempts again (two here), fails, and is back.
    await app.waitFor("the requeued work failed again", async () => {
      const [row] = await app.db.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM pgboss.job WHERE id = ${id}::uuid`;
      return row?.state === "failed";
    }, 30_000);
    const back = (await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body;
    expect(back.dead_letters[0]).toMatchObject({ dead_letter_id: id, attempts: 2, request_id: "caused-by-req-2" });
    expect(Date.parse(back.dead_letters[0].failed_at)).toBeGreaterThan(Date.parse(failedAt));
    expect((await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body).toMatchObject({ total: 1, dead_letters: [{ dead_letter_id: id }] });
    expect((await app.api("GET", "/health")).body.status).toBe("degraded");

    const discarded = await app.api("POST", `/admin/dead-letters/${id}/discard`, { key: admin.apiKey });
    expect(discarded.status, JSON.stringify(discarded.body)).toBe(200);
    expect(discarded.body).toMatchObject({ dead_letter_id: id, function: "sendTransfer", payload: { transferId: missing } });
    expect((await app.api("GET", "/admin/dead-letters", { key: admin.apiKey })).body).toMatchObject({ total: 0 });
    expect((await app.api("GET", "/health")).body.checks.background_runner).toMatchObject({ ok: true });
    // Kept in pg-boss's archive, and no longer requeueable.
    const [archived] = await app.db.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM pgboss.archive WHERE id = ${id}::uuid`;
    expect(archived?.state).toBe("failed");
    expect((await app.api("POST", `/admin/dead-letters/${id}/requeue`, { key: admin.apiKey })).body.error).toMatchObject({ code: "DEAD_LETTER_NOT_FOUND" });
  });

  it("under Inngest there are none to list: an empty list with a note, not an error", async () => {
    await setEnv({ INNGEST_BASE_URL: "http://127.0.0.1:9" });
    try {
      const listed = await app.api("GET", "/admin/dead-letters", { key: admin.apiKey });
      expect(listed.status).toBe(200);
      expect(listed.body).toMatchObject({ runner: "inngest", dead_letters: [], total: 0 });
      expect(listed.body.note).toContain("Inngest dashboard");
      const requeue = await app.api("POST", `/admin/dead-letters/${randomUUID()}/requeue`, { key: admin.apiKey });
      expect(requeue.status).toBe(404);
      expect(requeue.body.error.message).toContain("Inngest");
    } finally {
      await setEnv({ INNGEST_BASE_URL: "" });
    }
  });

  it("/health degrades past HEALTH_STUCK_TRANSFER_THRESHOLD stuck transfers, not before", async () => {
    const buyer = await app.registerAgent("dl-stuck-buyer", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "2");
    // A transfer recorded long ago and never sent (its enqueue lost): stuck.
    const stuck = await app.db.transfer.create({
      data: { jobId: taskId, kind: "refund", idempotencyKey: `stuck-test:${taskId}`, agentId: buyer.agentId, toAddress: buyer.wallet!, amount: 1n, status: "sent", createdAt: new Date(Date.now() - 3_600_000) },
    });
    try {
      await setEnv({ HEALTH_STUCK_TRANSFER_THRESHOLD: "1" });
      const tolerated = await app.api("GET", "/health");
      expect(tolerated.body.checks.transfers, JSON.stringify(tolerated.body.checks.transfers)).toMatchObject({ ok: true });
      expect(tolerated.body.checks.transfers.detail).toMatch(/^1 transfer not final/);
      await setEnv({ HEALTH_STUCK_TRANSFER_THRESHOLD: "0" });
      const degraded = await app.api("GET", "/health");
      expect(degraded.body.status).toBe("degraded");
      expect(degraded.body.checks.transfers).toMatchObject({ ok: false });
      expect(degraded.body.checks.transfers.detail).toMatch(/^1 transfer not final/);
    } finally {
      await setEnv({ HEALTH_STUCK_TRANSFER_THRESHOLD: "" });
      await app.db.transfer.delete({ where: { id: stuck.id } });
    }
  });
});
