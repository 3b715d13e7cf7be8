import http from "node:http";
import type { AddressInfo } from "node:net";
import { encode } from "next-auth/jwt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Issue 8, the event feed: GET /events replays, in order and from any cursor, every event of the
// jobs an agent buys or ever claimed, with the webhook payloads; GET /events/stream pushes the
// same as server-sent events and resumes from Last-Event-ID. An agent that was offline catches up
// from its last cursor, and an event whose transaction commits late is not skipped.

interface FeedEvent {
  cursor: string;
  event: string;
  task_id: string;
  timestamp: string;
  data: { event_id: string; kind: string } & Record<string, unknown>;
}

let app: TestApp;
let receiver: http.Server;
let receiverUrl: string;
const webhookBodies: { path: string; json: Omit<FeedEvent, "cursor"> }[] = [];
let buyer: RegisteredAgent & { privateKey?: `0x${string}` };
let worker: RegisteredAgent;
let stranger: RegisteredAgent;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      webhookBodies.push({ path: req.url ?? "", json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({ extraEnv: { EVENT_STREAM_HEARTBEAT_SECONDS: "1" } });
  buyer = await app.registerAgent("feed-buyer", { wallet: true });
  worker = await app.registerAgent("feed-worker", { wallet: "0x000000000000000000000000000000000000f001" });
  stranger = await app.registerAgent("feed-stranger", { wallet: true });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function feed(agent: RegisteredAgent, after: string | bigint = "0", limit = 200): Promise<{ events: FeedEvent[]; next_cursor: string; has_more: boolean }> {
  const res = await app.api("GET", `/events?after=${after}&limit=${limit}`, { key: agent.apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Everything after `after`, page by page. */
async function readAll(agent: RegisteredAgent, after: string | bigint = "0", limit = 200): Promise<FeedEvent[]> {
  const all: FeedEvent[] = [];
  for (let cursor = String(after); ; ) {
    const page = await feed(agent, cursor, limit);
    all.push(...page.events);
    cursor = page.next_cursor;
    if (!page.has_more) return all;
  }
}

const ofJob = (events: FeedEvent[], taskId: string) => events.filter((e) => e.task_id === taskId);
const waitForFeed = (agent: RegisteredAgent, what: string, test: (events: FeedEvent[]) => boolean, after: string | bigint = "0") =>
  app.waitFor(what, async () => {
    const events = await readAll(agent, after);
    return test(events) ? events : null;
  });

/** A job through to resolution: funded, claimed, delivered, passed (job.funded, job.claimed, submission.completed, job.resolved). */
async function resolvedJob(): Promise<string> {
  const taskId = await createFundedJob(app, buyer, "2");
  expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "done" } });
  expect(sub.status).toBe(202);
  // The checks run in the background; the buyer's verdict is taken once they have.
  await app.waitFor("the verdict taken", async () => (await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "fine" } })).status === 200);
  return taskId;
}

describe("GET /events", () => {
  it("returns the events of the agent's jobs in order, with cursors to page by and the webhook payloads", async () => {
    const hook = await app.api("POST", `/agents/${buyer.agentId}/webhooks`, { key: buyer.apiKey, body: { url: `${receiverUrl}/buyer` } });
    expect(hook.status).toBe(201);
    const taskId = await resolvedJob();
    const events = await waitForFeed(buyer, "the resolution in the feed", (all) => ofJob(all, taskId).some((e) => e.event === "job.resolved"));
    expect(ofJob(events, taskId).map((e) => e.event)).toEqual(["job.funded", "job.claimed", "submission.completed", "job.resolved"]);
    const cursors = events.map((e) => BigInt(e.cursor));
    expect(cursors.every((c, i) => i === 0 || c > cursors[i - 1]!)).toBe(true);

    // Byte for byte what the webhook received, less the cursor.
    await app.waitFor("the webhook got all four", async () => webhookBodies.filter((b) => b.path === "/buyer" && b.json.task_id === taskId).length === 4);
    for (const { cursor: _cursor, ...item } of ofJob(events, taskId)) {
      const body = webhookBodies.find((b) => b.path === "/buyer" && b.json.data.event_id === item.data.event_id);
      expect(body?.json, item.event).toEqual(item);
    }

    // One at a time, each page carrying on from the last cursor, the same sequence.
    const walked: FeedEvent[] = [];
    for (let cursor = "0"; ; ) {
      const page = await feed(buyer, cursor, 1);
      walked.push(...page.events);
      if (page.events.length > 0) expect(page.next_cursor).toBe(page.events[0]!.cursor);
      else expect(page.next_cursor).toBe(cursor);
      cursor = page.next_cursor;
      if (!page.has_more) break;
    }
    expect(walked).toEqual(events);
    // Replayable from any point: from the second event on is the same tail.
    expect(await readAll(buyer, events[0]!.cursor)).toEqual(events.slice(1));

    // The worker hears about the job it claimed too.
    const workerEvents = await readAll(worker);
    expect(ofJob(workerEvents, taskId).map((e) => e.event)).toEqual(["job.funded", "job.claimed", "submission.completed", "job.resolved"]);
  });

  it("lets an agent that was offline catch up from its last cursor: exactly what it missed, in order", async () => {
    const seen = await readAll(buyer);
    const lastCursor = seen.at(-1)?.cursor ?? "0";
    // Offline: it reads nothing while two more jobs move on.
    const cancelled = await createFundedJob(app, buyer, "2");
    expect((await app.api("POST", `/jobs/${cancelled}/cancel`, { key: buyer.apiKey })).status).toBe(200);
    const resolved = await resolvedJob();

    const missed = await waitForFeed(buyer, "everything missed", (all) => ofJob(all, resolved).some((e) => e.event === "job.resolved"), lastCursor);
    expect(missed.map((e) => [e.task_id, e.event])).toEqual([
      [cancelled, "job.funded"],
      [cancelled, "job.cancelled"],
      [resolved, "job.funded"],
      [resolved, "job.claimed"],
      [resolved, "submission.completed"],
      [resolved, "job.resolved"],
    ]);
    expect(missed.every((e) => BigInt(e.cursor) > BigInt(lastCursor))).toBe(true);
    // Nothing it had already seen comes again, and a replay from 0 is the whole history.
    expect(missed.filter((e) => seen.some((s) => s.cursor === e.cursor))).toEqual([]);
    expect(await readAll(buyer)).toEqual([...seen, ...missed]);
    // Caught up: an empty page that keeps the cursor.
    const end = await feed(buyer, missed.at(-1)!.cursor);
    expect(end).toEqual({ events: [], next_cursor: missed.at(-1)!.cursor, has_more: false });
  });

  it("shows no agent the events of jobs it is not party to", async () => {
    const own = await createFundedJob(app, stranger, "2");
    const events = await waitForFeed(stranger, "the stranger's own job", (all) => all.some((e) => e.task_id === own));
    expect(new Set(events.map((e) => e.task_id))).toEqual(new Set([own]));
    expect((await readAll(buyer)).some((e) => e.task_id === own)).toBe(false);
    expect((await readAll(worker)).some((e) => e.task_id === own)).toBe(false);

    expect((await app.api("GET", "/events")).status).toBe(401);
    expect((await app.api("GET", "/events", { key: "am_live_not-a-real-key" })).status).toBe(401);
    const owner = await ownerCookie("feed-owner@example.com");
    expect((await app.api("GET", "/events", { headers: { cookie: owner } })).status).toBe(401);
  });

  it("never skips an event whose transaction commits after a later one was published", async () => {
    const someJob = (await readAll(buyer))[0]!.task_id;
    // A transaction writes an event and stays open, holding the lower seq.
    const slow = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await slow.connect();
    try {
      await slow.query("BEGIN");
      const { rows } = await slow.query<{ id: string; seq: string }>(
        `INSERT INTO job_events (id, task_id, kind, actor, reason, created_at) VALUES (gen_random_uuid(), $1, 'dispute_filed', $2, 'late commit', now() AT TIME ZONE 'UTC') RETURNING id, seq`,
        [someJob, buyer.agentId],
      );
      const late = rows[0]!;
      // Meanwhile another event commits and is published; the buyer reads past it.
      const later = await createFundedJob(app, buyer, "2");
      const read = await waitForFeed(buyer, "the later event", (all) => all.some((e) => e.task_id === later));
      const laterEvent = read.find((e) => e.task_id === later)!;
      const [{ seq: laterSeq }] = (await app.db.$queryRaw<{ seq: bigint }[]>`SELECT seq FROM job_events WHERE id = ${laterEvent.data.event_id}::uuid`) as [{ seq: bigint }];
      expect(BigInt(late.seq)).toBeLessThan(laterSeq);
      const cursor = read.at(-1)!.cursor;

      await slow.query("COMMIT");
      const { publishJobEvents } = await import("~/server/services/events/publish-job-events");
      // What the sweep does for an event whose publication was never queued (this insert queued none).
      while ((await publishJobEvents({ db: app.db })).busy) await new Promise((resolve) => setTimeout(resolve, 50));
      const after = await readAll(buyer, cursor);
      expect(after.map((e) => [e.data.event_id, e.event])).toEqual([[late.id, "dispute.filed"]]);
    } finally {
      await slow.end();
    }
  });

  it("publishes what committed while another publication was running, soon after it ends (not at the next sweep)", async () => {
    const { PUBLISH_LOCK } = await import("~/server/services/events/publish-job-events");
    const running = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await running.connect();
    try {
      // Another publication holds the lock for as long as this transaction lasts.
      await running.query("BEGIN");
      await running.query("SELECT pg_advisory_xact_lock($1)", [PUBLISH_LOCK.toString()]);
      const taskId = await createFundedJob(app, buyer, "2");
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await readAll(buyer)).some((e) => e.task_id === taskId)).toBe(false);
      await running.query("ROLLBACK");
      const released = Date.now();
      await waitForFeed(buyer, "the event published after the lock was released", (all) => all.some((e) => e.task_id === taskId));
      expect(Date.now() - released).toBeLessThan(5_000);
    } finally {
      await running.end();
    }
  });

  it("refuses cursors and limits it cannot hold, naming the field", async () => {
    for (const after of ["-1", "abc", "1e3", "9223372036854775808", "1.5", "%00", "9".repeat(40)]) {
      const res = await app.api("GET", `/events?after=${after}`, { key: buyer.apiKey });
      expect(res.status, after).toBe(400);
      expect(JSON.stringify(res.body.error), after).toContain("after");
    }
    for (const limit of ["0", "201", "abc", "-1"]) {
      const res = await app.api("GET", `/events?limit=${limit}`, { key: buyer.apiKey });
      expect(res.status, limit).toBe(400);
      expect(JSON.stringify(res.body.error), limit).toContain("limit");
    }
    expect((await app.api("GET", "/events?after=9223372036854775807", { key: buyer.apiKey })).body).toEqual({ events: [], next_cursor: "9223372036854775807", has_more: false });
  });
});

interface StreamMessage {
  id?: string;
  data?: string;
  comment?: string;
  retry?: string;
}

/** An SSE client: what arrives, message by message, until closed. */
async function openStream(agent: RegisteredAgent | undefined, opts: { after?: string; lastEventId?: string; headers?: Record<string, string> } = {}) {
  const controller = new AbortController();
  const res = await fetch(`${app.baseUrl}/api/v1/events/stream${opts.after !== undefined ? `?after=${opts.after}` : ""}`, {
    headers: { ...(agent ? { Authorization: `Bearer ${agent.apiKey}` } : {}), ...(opts.lastEventId !== undefined ? { "Last-Event-ID": opts.lastEventId } : {}), ...opts.headers },
    signal: controller.signal,
  });
  const messages: StreamMessage[] = [];
  if (res.ok) {
    void (async () => {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const message: StreamMessage = {};
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) message.comment = line.slice(1).trim();
              else if (line.startsWith("id: ")) message.id = line.slice(4);
              else if (line.startsWith("data: ")) message.data = line.slice(6);
              else if (line.startsWith("retry: ")) message.retry = line.slice(7);
            }
            messages.push(message);
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  const events = () => messages.filter((m) => m.data !== undefined).map((m) => ({ id: m.id!, ...(JSON.parse(m.data!) as FeedEvent) }));
  return { res, messages, events, close: () => controller.abort() };
}

describe("GET /events/stream", () => {
  it("pushes live events as server-sent events with heartbeats, and resumes after Last-Event-ID", async () => {
    const before = await readAll(buyer);
    const start = before.at(-1)!.cursor;
    const stream = await openStream(buyer, { after: start });
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(stream.res.headers.get("cache-control")).toContain("no-cache");

    const taskId = await createFundedJob(app, buyer, "2");
    const live = await app.waitFor("job.funded on the stream", async () => stream.events().find((e) => e.task_id === taskId));
    expect(live.event).toBe("job.funded");
    expect(live.id).toBe(live.cursor);
    const fromFeed = (await readAll(buyer, start)).find((e) => e.cursor === live.cursor);
    const { id: _id, ...pushed } = live;
    expect(pushed).toEqual(fromFeed);
    expect(stream.events().every((e) => BigInt(e.cursor) > BigInt(start))).toBe(true);
    await app.waitFor("a heartbeat", async () => stream.messages.some((m) => m.comment === "heartbeat"), 5_000);
    expect(stream.messages[0]).toEqual({ retry: "3000" });
    const lastId = stream.events().at(-1)!.id;
    stream.close();

    // While it is away the job is claimed and cancelled; reconnecting with Last-Event-ID replays exactly that.
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
    const missedWhileAway = await waitForFeed(buyer, "the claim", (all) => all.some((e) => e.task_id === taskId && e.event === "job.claimed"), lastId);
    const resumed = await openStream(buyer, { lastEventId: lastId, after: "0" });
    expect(resumed.res.status).toBe(200);
    await app.waitFor("the missed events", async () => resumed.events().length >= missedWhileAway.length);
    expect(resumed.events().map(({ id: _i, ...e }) => e)).toEqual(missedWhileAway);
    resumed.close();

    // From the beginning, the stream is the whole feed.
    const all = await readAll(buyer);
    const replay = await openStream(buyer);
    await app.waitFor("the whole feed", async () => replay.events().length >= all.length);
    expect(replay.events().map(({ id: _i, ...e }) => e)).toEqual(all);
    replay.close();
  });

  it("is for agents only, and refuses a cursor it cannot read", async () => {
    const anonymous = await openStream(undefined);
    expect(anonymous.res.status).toBe(401);
    expect((await anonymous.res.json()).error.code).toBe("UNAUTHORIZED");
    const badKey = await openStream({ agentId: "x", apiKey: "am_live_nope" });
    expect(badKey.res.status).toBe(401);
    const owner = await openStream(undefined, { headers: { cookie: await ownerCookie("stream-owner@example.com") } });
    expect(owner.res.status).toBe(403);
    for (const [opts, field] of [
      [{ lastEventId: "abc" }, "Last-Event-ID"],
      [{ lastEventId: "-1" }, "Last-Event-ID"],
      [{ after: "99999999999999999999" }, "after"],
    ] as const) {
      const bad = await openStream(buyer, opts);
      expect(bad.res.status, field).toBe(400);
      expect((await bad.res.json()).error.details.field).toBe(field);
    }
  });
});

describe("the OpenAPI document", () => {
  it("has the feed as an operation and describes the stream under its tag", async () => {
    const doc = (await app.api("GET", "/openapi.json")).body;
    expect(doc.paths["/events"].get.tags).toEqual(["events"]);
    expect(doc.paths["/events"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["after", "limit"]);
    const tag = doc.tags.find((t: { name: string }) => t.name === "events");
    expect(tag.description).toContain("GET /events/stream");
    expect(tag.description).toContain("Last-Event-ID");
  });
});

async function ownerCookie(email: string): Promise<string> {
  const res = await app.api("POST", "/owners", { body: { email, name: "Owner", password: "correct horse battery" } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { getEnv } = await import("~/env");
  const token = await encode({ token: { ownerId: res.body.owner_id, email }, secret: getEnv().NEXTAUTH_SECRET });
  return `next-auth.session-token=${token}`;
}
