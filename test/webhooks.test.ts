import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Webhooks (G04) end to end: real HTTP POSTs to a receiver on 127.0.0.1, signed per Standard
// Webhooks, published from committed job events right after the commit, retried on the
// Standard Webhooks schedule (one "second" of it lasts 10 ms here: WEBHOOK_RETRY_UNIT_MS).

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { event: string; task_id: string; timestamp: string; data: Record<string, unknown> };
}

let app: TestApp;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** Status to answer per path, one entry per request; 200 once the list is used up. */
const scripted = new Map<string, number[]>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ path: req.url ?? "", headers: req.headers, body, json: JSON.parse(body) });
      const status = scripted.get(req.url ?? "")?.shift() ?? 200;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({ extraEnv: { WEBHOOK_RETRY_UNIT_MS: "10" } });
});

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** Standard Webhooks verification, written from the spec (not with the app's signing code). */
function verify(secret: string, r: Received): boolean {
  const id = r.headers["webhook-id"] as string;
  const timestamp = r.headers["webhook-timestamp"] as string;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${r.body}`).digest("base64");
  const age = Math.abs(Date.now() / 1000 - Number(timestamp));
  return age < 300 && (r.headers["webhook-signature"] as string).split(" ").includes(`v1,${expected}`);
}

async function subscribe(agent: RegisteredAgent, path: string, events?: string[]) {
  const res = await app.api("POST", `/agents/${agent.agentId}/webhooks`, { key: agent.apiKey, body: { url: `${receiverUrl}${path}`, ...(events ? { events } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { webhook_id: string; secret: string; events: string[] };
}

const at = (path: string, event?: string) => received.filter((r) => r.path === path && (!event || r.json.event === event));
const waitForPost = (path: string, event: string, count = 1) =>
  app.waitFor(`${count} × ${event} at ${path}`, async () => (at(path, event).length >= count ? at(path, event) : null), 20_000);

describe("webhook registration", () => {
  it("registers with a secret shown once, lists without it, and refuses bad input and other agents", async () => {
    const agent = await app.registerAgent("hook-owner");
    const other = await app.registerAgent("hook-other");
    const hook = await subscribe(agent, "/registration", ["job.resolved"]);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    expect(hook.events).toEqual(["job.resolved"]);
    const all = await subscribe(agent, "/registration-all");
    expect(all.events).toContain("submission.completed");

    const listed = await app.api("GET", "/agents/hook-owner/webhooks", { key: agent.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.webhooks.map((w: { webhook_id: string }) => w.webhook_id)).toEqual([hook.webhook_id, all.webhook_id]);
    expect(JSON.stringify(listed.body)).not.toContain("whsec_");

    for (const [url, field] of [["not a url", "url"], ["ftp://example.com/x", "url"], ["http://user:pw@example.com/x", "url"]]) {
      const bad = await app.api("POST", "/agents/hook-owner/webhooks", { key: agent.apiKey, body: { url } });
      expect(bad.status, url).toBe(400);
      expect(bad.body.error.message).toContain(field);
    }
    const badEvent = await app.api("POST", "/agents/hook-owner/webhooks", { key: agent.apiKey, body: { url: `${receiverUrl}/x`, events: ["job.exploded"] } });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.message).toContain("events");

    expect((await app.api("POST", "/agents/hook-owner/webhooks", { key: other.apiKey, body: { url: `${receiverUrl}/x` } })).status).toBe(403);
    expect((await app.api("GET", "/agents/hook-owner/webhooks", { key: other.apiKey })).status).toBe(403);
    expect((await app.api("DELETE", `/agents/hook-owner/webhooks/${hook.webhook_id}`, { key: other.apiKey })).status).toBe(403);

    const deleted = await app.api("DELETE", `/agents/hook-owner/webhooks/${hook.webhook_id}`, { key: agent.apiKey });
    expect(deleted.status).toBe(204);
    expect((await app.api("DELETE", `/agents/hook-owner/webhooks/${hook.webhook_id}`, { key: agent.apiKey })).status).toBe(404);
    expect((await app.api("GET", "/agents/hook-owner/webhooks", { key: agent.apiKey })).body.webhooks).toHaveLength(1);
  });
});

describe("webhook deliveries", () => {
  it("tells the buyer and the worker what happens to their job, signed, each event once", async () => {
    const buyer = await app.registerAgent("hook-buyer", { wallet: true });
    const worker = await app.registerAgent("hook-worker", { wallet: "0x000000000000000000000000000000000000a001" });
    const stranger = await app.registerAgent("hook-stranger");
    const buyerHook = await subscribe(buyer, "/buyer");
    const workerHook = await subscribe(worker, "/worker", ["submission.completed", "job.resolved"]);
    await subscribe(stranger, "/stranger");

    const taskId = await createFundedJob(app, buyer, "10");
    const [funded] = await waitForPost("/buyer", "job.funded");
    expect(funded!.json).toMatchObject({ event: "job.funded", task_id: taskId, data: { from_status: "open", to_status: "funded", actor: "hook-buyer" } });
    expect(verify(buyerHook.secret, funded!)).toBe(true);
    expect(verify(workerHook.secret, funded!)).toBe(false);

    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    await waitForPost("/buyer", "job.claimed");
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "the summary" } });
    await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "covers the finding" } });

    const [completed] = await waitForPost("/worker", "submission.completed");
    expect(completed!.json.data).toMatchObject({ submission_id: sub.body.submission_id, worker_id: "hook-worker", passed: true });
    expect(verify(workerHook.secret, completed!)).toBe(true);
    await waitForPost("/worker", "job.resolved");
    const [resolved] = await waitForPost("/buyer", "job.resolved");
    expect(resolved!.json).toMatchObject({ task_id: taskId, data: { to_status: "resolved" } });
    expect(resolved!.headers["content-type"]).toBe("application/json");
    expect(resolved!.headers["webhook-id"]).toBeTruthy();

    // The worker subscribed to two events only; the stranger has nothing to do with this job.
    expect(at("/worker").map((r) => r.json.event).sort()).toEqual(["job.resolved", "submission.completed"]);
    expect(at("/stranger")).toHaveLength(0);
    // Each event once per webhook.
    const ids = at("/buyer").map((r) => r.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(ids.length);

    // The POST arrives before its attempt is recorded: wait for the log to settle.
    const log = await app.waitFor("the buyer's deliveries recorded", async () => {
      const res = await app.api("GET", `/agents/hook-buyer/webhooks/${buyerHook.webhook_id}/deliveries`, { key: buyer.apiKey });
      return res.body.deliveries.every((d: { status: string }) => d.status !== "pending") ? res : null;
    });
    expect(log.status).toBe(200);
    expect(log.body.deliveries.map((d: { event: string }) => d.event)).toEqual(expect.arrayContaining(["job.funded", "job.claimed", "submission.completed", "job.resolved"]));
    expect(log.body.deliveries.every((d: { status: string; attempts: number; last_status: number }) => d.status === "delivered" && d.attempts === 1 && d.last_status === 200)).toBe(true);
    expect(log.body.deliveries.find((d: { event: string }) => d.event === "job.resolved").delivery_id).toBe(resolved!.headers["webhook-id"]);
  });

  it("retries a failing receiver with the same webhook-id until it answers 2xx, and gives up after the last attempt of the schedule", async () => {
    const buyer = await app.registerAgent("hook-flaky-buyer", { wallet: true });
    scripted.set("/flaky", [500, 502]);
    scripted.set("/down", Array.from({ length: 20 }, () => 503));
    const flaky = await subscribe(buyer, "/flaky", ["job.funded"]);
    const down = await subscribe(buyer, "/down", ["job.funded"]);
    await createFundedJob(app, buyer, "3");

    // 0, 50 ms, then 3 s (5 s and 5 min of the schedule at 10 ms a "second").
    const attempts = await waitForPost("/flaky", "job.funded", 3);
    expect(new Set(attempts.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(attempts.every((r) => verify(flaky.secret, r))).toBe(true);
    const flakyLog = await app.waitFor("flaky delivered", async () => {
      const res = await app.api("GET", `/agents/hook-flaky-buyer/webhooks/${flaky.webhook_id}/deliveries`, { key: buyer.apiKey });
      return res.body.deliveries[0]?.status === "delivered" ? res.body : null;
    });
    expect(flakyLog.deliveries[0]).toMatchObject({ event: "job.funded", attempts: 3, last_status: 200, last_error: null, next_attempt_at: null });

    // The receiver stays down: each time the next attempt is scheduled, the test moves its due
    // time to now (rather than wait out 5 min … 10 h) and runs the due-deliveries pass the sweep runs.
    const { enqueueOverdueDeliveries } = await import("~/server/services/webhooks/deliver-webhook");
    const downLog = async () => (await app.api("GET", `/agents/hook-flaky-buyer/webhooks/${down.webhook_id}/deliveries`, { key: buyer.apiKey })).body.deliveries[0];
    let failed: { delivery_id: string; status: string } | undefined;
    for (let seen = 0; !failed; ) {
      const d = await app.waitFor(`attempt ${seen + 1} of /down recorded`, async () => {
        const latest = await downLog();
        return latest && (latest.status === "failed" || (latest.status === "pending" && latest.attempts > seen)) ? latest : null;
      });
      if (d.status === "failed") failed = d;
      else {
        expect(d).toMatchObject({ last_status: 503 });
        expect(d.next_attempt_at).not.toBeNull();
        seen = d.attempts;
        await app.db.webhookDelivery.update({ where: { id: d.delivery_id }, data: { nextAttemptAt: new Date(Date.now() - 1_000) } });
        await enqueueOverdueDeliveries({ db: app.db, overdueBefore: new Date() });
      }
    }
    expect(failed).toMatchObject({ attempts: 8, last_status: 503, last_error: "receiver answered 503", next_attempt_at: null });
    expect(at("/down")).toHaveLength(8);
    const log = await app.api("GET", `/agents/hook-flaky-buyer/webhooks/${down.webhook_id}/deliveries/${failed!.delivery_id}/attempts`, { key: buyer.apiKey });
    expect(log.status).toBe(200);
    expect(log.body.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(log.body.attempts[0].next_attempt_at).toBeNull();
    expect(log.body.attempts.slice(1).every((a: { next_attempt_at: string | null; status_code: number }) => a.next_attempt_at !== null && a.status_code === 503)).toBe(true);
  });

  it("sends right after the commit, with no listening connection, and keeps the process's presence connection after the database drops it", async () => {
    const buyer = await app.registerAgent("hook-reconnect-buyer", { wallet: true });
    await subscribe(buyer, "/reconnect", ["job.funded"]);
    // Nothing LISTENs for job events any more: the services queue the publication after commit.
    const listening = await app.db.$queryRaw<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`;
    expect(listening).toHaveLength(0);
    const killed = await app.db.$queryRaw<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'agent-market:%'`;
    expect(killed).toHaveLength(1);
    await app.db.$queryRaw`SELECT pg_terminate_backend(${killed[0]!.pid})`;
    // The process's sign of life (work leases, idempotency keys) comes back within a couple of seconds.
    await app.waitFor("presence connection back", async () => {
      const rows = await app.db.$queryRaw<{ pid: number }[]>`
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'agent-market:%' AND pid <> ${killed[0]!.pid}`;
      return rows.length === 1;
    });
    const started = Date.now();
    await createFundedJob(app, buyer, "2");
    await waitForPost("/reconnect", "job.funded");
    // Well inside the sweep's minute: it came from the commit, not the sweep.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("sends nothing to a deleted webhook", async () => {
    const buyer = await app.registerAgent("hook-deleted-buyer", { wallet: true });
    const kept = await subscribe(buyer, "/kept", ["job.funded"]);
    const gone = await subscribe(buyer, "/gone", ["job.funded"]);
    expect((await app.api("DELETE", `/agents/hook-deleted-buyer/webhooks/${gone.webhook_id}`, { key: buyer.apiKey })).status).toBe(204);
    await createFundedJob(app, buyer, "2");
    const [post] = await waitForPost("/kept", "job.funded");
    expect(verify(kept.secret, post!)).toBe(true);
    expect(at("/gone")).toHaveLength(0);
  });
});
