import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { InngestTestEngine } from "@inngest/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";
import { ATTEMPTS_PER_ROUND, MAX_RETRY_AFTER_MS, nextAttemptAt, parseRetryAfterMs, retryDelayMs, RETRY_SCHEDULE_SECONDS } from "~/server/services/webhooks/retry-schedule";

// Issue 8, "events that are never lost": the retry schedule, Retry-After, 410 and the 5-day rule,
// the attempt log, redelivery, the test event, and the publication queued after the commit under
// the Inngest runner. Real app, real HTTP receivers on 127.0.0.1. One "second" of the schedule
// lasts 10 ms here (WEBHOOK_RETRY_UNIT_MS), so 5 s is 50 ms and 5 min is 3 s; longer waits are
// skipped by moving the due time in the database and running the sweep's due-deliveries pass.

const UNIT_MS = 10;

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

interface Received {
  path: string;
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { event: string; task_id: string | null; timestamp: string; data: Record<string, unknown> };
}

let app: TestApp;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** What to answer per path, one entry per request; 200 once the list is used up. */
const scripted = new Map<string, Answer[]>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ path: req.url ?? "", at: Date.now(), headers: req.headers, body, json: JSON.parse(body) });
      const answer = scripted.get(req.url ?? "")?.shift() ?? { status: 200 };
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({ extraEnv: { WEBHOOK_RETRY_UNIT_MS: String(UNIT_MS) } });
});

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

function verify(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${r.headers["webhook-id"]}.${r.headers["webhook-timestamp"]}.${r.body}`).digest("base64");
  return r.headers["webhook-signature"] === `v1,${expected}`;
}

async function subscribe(agent: RegisteredAgent, path: string, events: string[] = ["job.funded"]) {
  const res = await app.api("POST", `/agents/${agent.agentId}/webhooks`, { key: agent.apiKey, body: { url: `${receiverUrl}${path}`, events } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { webhook_id: string; secret: string };
}

const at = (path: string) => received.filter((r) => r.path === path);
const waitForPosts = (path: string, count: number, timeoutMs = 20_000) => app.waitFor(`${count} POSTs at ${path}`, async () => (at(path).length >= count ? at(path) : null), timeoutMs);

interface DeliveryDto {
  delivery_id: string;
  event: string;
  task_id: string | null;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

interface AttemptDto {
  attempt: number;
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
  next_attempt_at: string | null;
}

async function deliveries(agent: RegisteredAgent, webhookId: string): Promise<DeliveryDto[]> {
  const res = await app.api("GET", `/agents/${agent.agentId}/webhooks/${webhookId}/deliveries`, { key: agent.apiKey });
  expect(res.status).toBe(200);
  return res.body.deliveries;
}

async function attemptsOf(agent: RegisteredAgent, webhookId: string, deliveryId: string): Promise<AttemptDto[]> {
  const res = await app.api("GET", `/agents/${agent.agentId}/webhooks/${webhookId}/deliveries/${deliveryId}/attempts`, { key: agent.apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.attempts;
}

const waitForDelivery = (agent: RegisteredAgent, webhookId: string, what: string, test: (d: DeliveryDto) => boolean, timeoutMs = 20_000) =>
  app.waitFor(what, async () => (await deliveries(agent, webhookId)).find(test) ?? null, timeoutMs);

/** Skips the wait for a delivery's next attempt: due now, then the due-deliveries pass of the sweep. */
async function dueNow(deliveryId: string) {
  const { enqueueOverdueDeliveries } = await import("~/server/services/webhooks/deliver-webhook");
  await app.db.webhookDelivery.update({ where: { id: deliveryId }, data: { nextAttemptAt: new Date(Date.now() - 1_000) } });
  await enqueueOverdueDeliveries({ db: app.db, overdueBefore: new Date() });
}

describe("the retry schedule", () => {
  it("is the Standard Webhooks schedule, each wait varied by at most ±10 %, and ends after the 8th attempt", () => {
    expect(RETRY_SCHEDULE_SECONDS).toEqual([0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]);
    expect(ATTEMPTS_PER_ROUND).toBe(8);
    const unitMs = 1_000;
    for (let failed = 1; failed < 8; failed++) {
      const base = RETRY_SCHEDULE_SECONDS[failed]! * unitMs;
      expect(retryDelayMs(failed, { unitMs, random: () => 0.5 })).toBe(base);
      expect(retryDelayMs(failed, { unitMs, random: () => 0 })).toBe(Math.round(base * 0.9));
      expect(retryDelayMs(failed, { unitMs, random: () => 0.999999 })).toBeLessThanOrEqual(Math.round(base * 1.1));
    }
    expect(retryDelayMs(8, { unitMs })).toBeNull();
    expect(retryDelayMs(0, { unitMs })).toBeNull();
    // Jitter really varies the waits.
    const waits = new Set(Array.from({ length: 20 }, () => retryDelayMs(3, { unitMs })));
    expect(waits.size).toBeGreaterThan(1);
    // About 27.5 hours from the first attempt to the last.
    expect(RETRY_SCHEDULE_SECONDS.reduce<number>((a, b) => a + b, 0)).toBe(99_305);
  });

  it("takes the later of the schedule and Retry-After, which is read as seconds or a date and bounded", () => {
    const now = new Date("2026-12-01T00:00:00.000Z");
    expect(parseRetryAfterMs("120", now)).toBe(120_000);
    expect(parseRetryAfterMs("Tue, 01 Dec 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfterMs("999999999", now)).toBe(MAX_RETRY_AFTER_MS);
    for (const junk of [undefined, "", "soon", "-5", "1.5", "0", "Mon, 30 Nov 2026 00:00:00 GMT"]) expect(parseRetryAfterMs(junk, now), String(junk)).toBeNull();
    const after = new Date("2026-12-01T00:00:00.000Z");
    expect(nextAttemptAt({ failedAttempts: 1, after, retryAfterMs: 120_000, unitMs: 1_000, random: () => 0.5 })!.toISOString()).toBe("2026-12-01T00:02:00.000Z");
    expect(nextAttemptAt({ failedAttempts: 2, after, retryAfterMs: 120_000, unitMs: 1_000, random: () => 0.5 })!.toISOString()).toBe("2026-12-01T00:05:00.000Z");
    expect(nextAttemptAt({ failedAttempts: 8, after, retryAfterMs: 120_000, unitMs: 1_000 })).toBeNull();
  });

  it("delivers at the next scheduled time after failures, and logs every attempt with its answer, duration and the next attempt's time", async () => {
    const buyer = await app.registerAgent("retry-buyer", { wallet: true });
    const longAnswer = `\u0000${"x".repeat(5_000)}`;
    scripted.set("/sched", [{ status: 500, body: longAnswer }, { status: 502, body: "bad gateway" }, { status: 200, body: "thanks" }]);
    const hook = await subscribe(buyer, "/sched");
    await createFundedJob(app, buyer, "2");
    const delivered = await waitForDelivery(buyer, hook.webhook_id, "delivered after two failures", (d) => d.status === "delivered");
    expect(delivered).toMatchObject({ attempts: 3, last_status: 200, last_error: null, next_attempt_at: null });
    const posts = at("/sched");
    expect(posts).toHaveLength(3);
    expect(new Set(posts.map((p) => p.headers["webhook-id"]))).toEqual(new Set([delivered.delivery_id]));

    const attempts = (await attemptsOf(buyer, hook.webhook_id, delivered.delivery_id)).reverse();
    expect(attempts.map((a) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, "receiver answered 500"],
      [2, 502, "receiver answered 502"],
      [3, 200, null],
    ]);
    // The answer's start, bounded and storable (the NUL is replaced).
    expect(attempts[0]!.response_excerpt!.length).toBeLessThanOrEqual(1_000);
    expect(attempts[0]!.response_excerpt).toMatch(/^\uFFFDx+…$/);
    expect(attempts[1]!.response_excerpt).toBe("bad gateway");
    expect(attempts[2]!.response_excerpt).toBe("thanks");
    expect(attempts[2]!.next_attempt_at).toBeNull();
    for (const failed of [1, 2]) {
      const before = attempts[failed - 1]!;
      const ended = Date.parse(before.attempted_at) + before.duration_ms;
      const scheduled = Date.parse(before.next_attempt_at!);
      // The wait the schedule gives after `failed` failures (5 s, then 5 min, in 10 ms "seconds"), ±10 %.
      const wait = RETRY_SCHEDULE_SECONDS[failed]! * UNIT_MS;
      expect(scheduled - ended).toBeGreaterThanOrEqual(Math.floor(wait * 0.9) - 2);
      expect(scheduled - ended).toBeLessThanOrEqual(Math.ceil(wait * 1.1) + 2);
      // The next attempt came at its time: not before, and soon after (the queue polls every 0.5 s).
      const next = Date.parse(attempts[failed]!.attempted_at);
      expect(next).toBeGreaterThanOrEqual(scheduled);
      expect(next - scheduled).toBeLessThan(2_500);
    }
    expect(posts[2]!.at - posts[1]!.at).toBeGreaterThanOrEqual(2_700);
  });

  it("honours Retry-After (bounded to a day) instead of the schedule's shorter wait", async () => {
    const buyer = await app.registerAgent("retry-after-buyer", { wallet: true });
    scripted.set("/busy", [{ status: 503, headers: { "Retry-After": "2" } }]);
    scripted.set("/very-busy", [{ status: 429, headers: { "Retry-After": "999999999" } }]);
    const busy = await subscribe(buyer, "/busy");
    const veryBusy = await subscribe(buyer, "/very-busy");
    await createFundedJob(app, buyer, "2");

    const delivered = await waitForDelivery(buyer, busy.webhook_id, "busy delivered", (d) => d.status === "delivered");
    const [first, second] = (await attemptsOf(buyer, busy.webhook_id, delivered.delivery_id)).reverse();
    const ended = Date.parse(first!.attempted_at) + first!.duration_ms;
    // The schedule alone says 50 ms; the receiver asked for 2 s.
    expect(Date.parse(first!.next_attempt_at!) - ended).toBeGreaterThanOrEqual(2_000);
    expect(Date.parse(first!.next_attempt_at!) - ended).toBeLessThan(2_100);
    expect(Date.parse(second!.attempted_at)).toBeGreaterThanOrEqual(Date.parse(first!.next_attempt_at!));
    const posts = at("/busy");
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1_900);

    const waiting = await waitForDelivery(buyer, veryBusy.webhook_id, "very busy rescheduled", (d) => d.attempts === 1 && d.status === "pending");
    const [only] = await attemptsOf(buyer, veryBusy.webhook_id, waiting.delivery_id);
    const wait = Date.parse(only!.next_attempt_at!) - (Date.parse(only!.attempted_at) + only!.duration_ms);
    expect(wait).toBeGreaterThanOrEqual(MAX_RETRY_AFTER_MS - 5);
    expect(wait).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS + 5);
    expect(waiting.next_attempt_at).toBe(only!.next_attempt_at);
  });
});

describe("disabling endpoints", () => {
  it("disables a webhook at once when its receiver answers 410 Gone, shows why, and sends again once enabled", async () => {
    const buyer = await app.registerAgent("gone-buyer", { wallet: true });
    const worker = await app.registerAgent("gone-worker");
    scripted.set("/gone", [{ status: 410, body: "this endpoint is gone" }]);
    const gone = await subscribe(buyer, "/gone", ["job.funded", "job.claimed"]);
    await subscribe(buyer, "/still-here", ["job.funded", "job.claimed"]);
    const taskId = await createFundedJob(app, buyer, "2");

    const failed = await waitForDelivery(buyer, gone.webhook_id, "gone failed", (d) => d.status === "failed");
    expect(failed).toMatchObject({ attempts: 1, last_status: 410, next_attempt_at: null });
    expect(failed.last_error).toContain("webhook disabled: the receiver answered 410 Gone");
    const shown = await app.api("GET", `/agents/${buyer.agentId}/webhooks/${gone.webhook_id}`, { key: buyer.apiKey });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ status: "disabled", disabled_reason: "the receiver answered 410 Gone" });
    expect(Date.parse(shown.body.disabled_at)).toBeGreaterThan(Date.now() - 60_000);
    const listed = await app.api("GET", `/agents/${buyer.agentId}/webhooks`, { key: buyer.apiKey });
    expect(listed.body.webhooks.find((w: { webhook_id: string }) => w.webhook_id === gone.webhook_id)).toMatchObject({ status: "disabled" });

    // The next event goes to the live webhook only.
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
    await app.waitFor("claim at the live webhook", async () => at("/still-here").some((r) => r.json.event === "job.claimed"));
    expect(at("/gone")).toHaveLength(1);
    expect((await deliveries(buyer, gone.webhook_id)).map((d) => d.event)).toEqual(["job.funded"]);

    for (const [method, path] of [
      ["POST", `/agents/${buyer.agentId}/webhooks/${gone.webhook_id}/test`],
      ["POST", `/agents/${buyer.agentId}/webhooks/${gone.webhook_id}/deliveries/${failed.delivery_id}/redeliver`],
    ] as const) {
      const refused = await app.api(method, path, { key: buyer.apiKey });
      expect(refused.status, path).toBe(409);
      expect(refused.body.error.code).toBe("WEBHOOK_DISABLED");
    }

    const enabled = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${gone.webhook_id}/enable`, { key: buyer.apiKey });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ status: "active", disabled_at: null, disabled_reason: null, failing_since: null });
    const test = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${gone.webhook_id}/test`, { key: buyer.apiKey });
    expect(test.status).toBe(202);
    const [, ping] = await waitForPosts("/gone", 2);
    expect(ping!.json.event).toBe("webhook.test");
    expect(verify(gone.secret, ping!)).toBe(true);
  });

  it("disables a webhook whose every attempt has failed for 5 days (not 4), and a success resets the clock", async () => {
    const buyer = await app.registerAgent("flatline-buyer", { wallet: true });
    scripted.set("/flatline", Array.from({ length: 50 }, () => ({ status: 500 })));
    scripted.set("/recovering", [{ status: 500 }]);
    const flatline = await subscribe(buyer, "/flatline");
    const recovering = await subscribe(buyer, "/recovering");
    await createFundedJob(app, buyer, "2");

    const first = await waitForDelivery(buyer, flatline.webhook_id, "first failure", (d) => d.attempts >= 1 && d.status === "pending");
    const hook = async () => (await app.api("GET", `/agents/${buyer.agentId}/webhooks/${flatline.webhook_id}`, { key: buyer.apiKey })).body;
    expect((await hook()).failing_since).not.toBeNull();
    await waitForDelivery(buyer, recovering.webhook_id, "recovered", (d) => d.status === "delivered");
    expect((await app.api("GET", `/agents/${buyer.agentId}/webhooks/${recovering.webhook_id}`, { key: buyer.apiKey })).body).toMatchObject({ status: "active", failing_since: null });

    // Failing for 4 days: still active after another failure.
    const day = 24 * 3_600_000;
    await app.db.webhook.update({ where: { id: flatline.webhook_id }, data: { failingSince: new Date(Date.now() - 4 * day) } });
    const attemptsBefore = (await deliveries(buyer, flatline.webhook_id))[0]!.attempts;
    await dueNow(first.delivery_id);
    await waitForDelivery(buyer, flatline.webhook_id, "another failure", (d) => d.attempts > attemptsBefore && d.status === "pending");
    expect((await hook()).status).toBe("active");

    // Failing for 5 days: the next failure disables it.
    const since = new Date(Date.now() - 5 * day - 60_000);
    await app.db.webhook.update({ where: { id: flatline.webhook_id }, data: { failingSince: since } });
    await dueNow(first.delivery_id);
    const failed = await waitForDelivery(buyer, flatline.webhook_id, "disabled", (d) => d.status === "failed");
    expect(failed.last_error).toBe(`receiver answered 500; webhook disabled: every attempt failed for 5 days (since ${since.toISOString()})`);
    expect(await hook()).toMatchObject({ status: "disabled", disabled_reason: `every attempt failed for 5 days (since ${since.toISOString()})` });

    // Fixed and enabled again: a redelivery of the failed delivery goes through.
    scripted.set("/flatline", []);
    expect((await app.api("POST", `/agents/${buyer.agentId}/webhooks/${flatline.webhook_id}/enable`, { key: buyer.apiKey })).status).toBe(200);
    const again = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${flatline.webhook_id}/deliveries/${failed.delivery_id}/redeliver`, { key: buyer.apiKey });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ delivery_id: failed.delivery_id, status: "pending" });
    const redelivered = await waitForDelivery(buyer, flatline.webhook_id, "redelivered", (d) => d.status === "delivered");
    expect(redelivered.attempts).toBe(failed.attempts + 1);
  });
});

describe("redelivery and the test event", () => {
  it("redelivers a delivered event with its payload and webhook-id, freshly signed; other agents cannot", async () => {
    const buyer = await app.registerAgent("redeliver-buyer", { wallet: true });
    const stranger = await app.registerAgent("redeliver-stranger");
    const hook = await subscribe(buyer, "/redeliver");
    const otherHook = await subscribe(buyer, "/redeliver-other", ["job.resolved"]);
    await createFundedJob(app, buyer, "2");
    const [original] = await waitForPosts("/redeliver", 1);
    const delivered = await waitForDelivery(buyer, hook.webhook_id, "delivered", (d) => d.status === "delivered");
    const path = `/agents/${buyer.agentId}/webhooks/${hook.webhook_id}/deliveries/${delivered.delivery_id}/redeliver`;

    expect((await app.api("POST", path, { key: stranger.apiKey })).status).toBe(403);
    expect((await app.api("POST", path)).status).toBe(401);
    const wrongHook = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${otherHook.webhook_id}/deliveries/${delivered.delivery_id}/redeliver`, { key: buyer.apiKey });
    expect(wrongHook.status).toBe(404);
    expect(wrongHook.body.error.code).toBe("WEBHOOK_DELIVERY_NOT_FOUND");
    const badId = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${hook.webhook_id}/deliveries/not-a-uuid/redeliver`, { key: buyer.apiKey });
    expect(badId.status).toBe(400);
    expect(at("/redeliver")).toHaveLength(1);

    const res = await app.api("POST", path, { key: buyer.apiKey });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ delivery_id: delivered.delivery_id, status: "pending", delivered_at: null });
    const [, again] = await waitForPosts("/redeliver", 2);
    expect(again!.headers["webhook-id"]).toBe(original!.headers["webhook-id"]);
    expect(again!.body).toBe(original!.body);
    expect(verify(hook.secret, again!)).toBe(true);
    const after = await waitForDelivery(buyer, hook.webhook_id, "delivered again", (d) => d.status === "delivered" && d.attempts === 2);
    expect(after.delivery_id).toBe(delivered.delivery_id);
    expect((await attemptsOf(buyer, hook.webhook_id, delivered.delivery_id)).map((a) => a.attempt)).toEqual([2, 1]);
    // Only the owner of the webhook reads its attempts.
    expect((await app.api("GET", `/agents/${buyer.agentId}/webhooks/${hook.webhook_id}/deliveries/${delivered.delivery_id}/attempts`, { key: stranger.apiKey })).status).toBe(403);
  });

  it("sends a signed webhook.test event on request and logs it; other agents cannot", async () => {
    const agent = await app.registerAgent("test-event-agent");
    const stranger = await app.registerAgent("test-event-stranger");
    const hook = await subscribe(agent, "/ping");
    const path = `/agents/${agent.agentId}/webhooks/${hook.webhook_id}/test`;
    expect((await app.api("POST", path, { key: stranger.apiKey })).status).toBe(403);
    const res = await app.api("POST", path, { key: agent.apiKey });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ event: "webhook.test", task_id: null, status: "pending", attempts: 0 });
    const [ping] = await waitForPosts("/ping", 1);
    expect(ping!.json).toMatchObject({ event: "webhook.test", task_id: null, data: { webhook_id: hook.webhook_id, agent_id: agent.agentId } });
    expect(ping!.headers["webhook-id"]).toBe(res.body.delivery_id);
    expect(verify(hook.secret, ping!)).toBe(true);
    const logged = await waitForDelivery(agent, hook.webhook_id, "test delivered", (d) => d.delivery_id === res.body.delivery_id && d.status === "delivered");
    expect(logged).toMatchObject({ event: "webhook.test", attempts: 1, last_status: 200 });
  });
});

describe("under the Inngest runner", () => {
  it("queues the publication right after the commit, and the delivery follows through the Inngest functions", async () => {
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { allBackgroundFunctions } = await import("~/server/jobs/functions");
    const { backgroundFunctions } = await import("~/server/jobs/catalog");
    const { setDispatcher } = await import("~/server/jobs/client");
    const buyer = await app.registerAgent("inngest-hook-buyer", { wallet: true });
    await subscribe(buyer, "/inngest");
    // pg-boss stops; what services enqueue goes to this stand-in for Inngest's event API, which
    // runs each function through the Inngest SDK (step by step), as Inngest would on the event.
    const restart = await app.stopRunner();
    const sent: { name: string; at: number; unpublishedFunded: number }[] = [];
    const runs: Promise<unknown>[] = [];
    const run = (name: string, data: unknown) => {
      const definition = allBackgroundFunctions.find((fn) => backgroundFunctions[fn.key].name === name)!;
      return new InngestTestEngine({ function: toInngestFunction(definition), events: [{ name, data: data as Record<string, unknown> }] }).execute();
    };
    setDispatcher({
      async send(name, payload, opts) {
        // What a separate connection sees at this moment: the event must already be committed.
        const [row] = await app.db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM job_events WHERE kind = 'funded' AND webhooks_dispatched_at IS NULL`;
        sent.push({ name, at: Date.now(), unpublishedFunded: row!.n });
        const delay = opts.startAfter ? Math.max(0, opts.startAfter.getTime() - Date.now()) : 0;
        runs.push(new Promise((resolve) => setTimeout(resolve, delay)).then(() => run(name, payload)));
      },
    });
    try {
      const taskId = await createFundedJob(app, buyer, "2");
      const fundedAt = Date.now();
      const dispatches = sent.filter((s) => s.name === "webhooks/dispatch");
      // Queued before the fund request answered, with the funded event already committed.
      expect(dispatches.length).toBeGreaterThanOrEqual(1);
      expect(dispatches[0]!.at).toBeLessThanOrEqual(fundedAt);
      expect(dispatches.at(-1)!.unpublishedFunded).toBeGreaterThanOrEqual(1);
      const [post] = await waitForPosts("/inngest", 1, 10_000);
      expect(post!.json).toMatchObject({ event: "job.funded", task_id: taskId });
      expect(sent.some((s) => s.name === "webhooks/deliver")).toBe(true);
      await Promise.all(runs);
    } finally {
      setDispatcher(undefined);
      await restart();
    }
  });
});
