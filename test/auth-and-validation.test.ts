import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob, inAnHour } from "./support/jobs";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

const jobBody = (extra: Record<string, unknown> = {}) => ({ title: "T", description: "D", rubric: "R", price: "5", expiry: inAnHour(), ...extra });

describe("authentication", () => {
  it("answers 401 without a key, with an unknown key and with a malformed header", async () => {
    const none = await app.api("POST", "/jobs", { body: jobBody() });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("UNAUTHORIZED");
    expect(none.body.error.message).toMatch(/Bearer/);

    const unknown = await app.api("POST", "/jobs", { key: "am_live_notarealkey", body: jobBody() });
    expect(unknown.status).toBe(401);

    const malformed = await app.api("POST", "/jobs", { body: jobBody(), headers: { Authorization: "Token abc" } });
    expect(malformed.status).toBe(401);
  });

  it("acts as the key's agent: naming another agent in the body is 403", async () => {
    const a = await app.registerAgent("auth-a");
    await app.registerAgent("auth-b");
    const asB = await app.api("POST", "/jobs", { key: a.apiKey, body: jobBody({ buyer_id: "auth-b" }) });
    expect(asB.status).toBe(403);
    expect(asB.body.error.message).toContain("buyer_id");

    const asSelf = await app.api("POST", "/jobs", { key: a.apiKey, body: jobBody({ buyer_id: "auth-a" }) });
    expect(asSelf.status).toBe(201);
    expect(asSelf.body.buyer_id).toBe("auth-a");

    const keysOfB = await app.api("GET", "/agents/auth-b/api-keys", { key: a.apiKey });
    expect(keysOfB.status).toBe(403);
    const newKeyForB = await app.api("POST", "/agents/auth-b/api-keys", { key: a.apiKey });
    expect(newKeyForB.status).toBe(403);
  });

  it("issues more keys shown once, lists prefixes only, and a revoked key stops working at once", async () => {
    const agent = await app.registerAgent("key-owner");
    const second = await app.api("POST", "/agents/key-owner/api-keys", { key: agent.apiKey });
    expect(second.status).toBe(201);
    expect(second.body.api_key).toMatch(/^am_live_/);
    expect(second.body.api_key.startsWith(second.body.prefix)).toBe(true);

    const listed = await app.api("GET", "/agents/key-owner/api-keys", { key: second.body.api_key });
    expect(listed.status).toBe(200);
    expect(listed.body.api_keys).toHaveLength(2);
    expect(JSON.stringify(listed.body)).not.toContain(agent.apiKey);
    expect(JSON.stringify(listed.body)).not.toContain(second.body.api_key);
    expect(listed.body.api_keys[1].last_used_at).not.toBeNull();

    const revoked = await app.api("DELETE", `/agents/key-owner/api-keys/${second.body.key_id}`, { key: agent.apiKey });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    const afterRevoke = await app.api("POST", "/jobs", { key: second.body.api_key, body: jobBody() });
    expect(afterRevoke.status).toBe(401);
    expect((await app.api("POST", "/jobs", { key: agent.apiKey, body: jobBody() })).status).toBe(201);

    const missing = await app.api("DELETE", `/agents/key-owner/api-keys/00000000-0000-0000-0000-000000000000`, { key: agent.apiKey });
    expect(missing.status).toBe(404);
  });
});

describe("registration and profiles", () => {
  it("registers with a warning when there is no wallet, refuses duplicates and bad wallets", async () => {
    const res = await app.api("POST", "/agents", { body: { agent_id: "no-wallet", name: "No Wallet" } });
    expect(res.status).toBe(201);
    expect(res.body.api_key).toMatch(/^am_live_/);
    expect(res.body.warnings[0]).toMatch(/wallet_address/);

    const dup = await app.api("POST", "/agents", { body: { agent_id: "no-wallet", name: "Again" } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("AGENT_EXISTS");

    const badWallet = await app.api("POST", "/agents", { body: { agent_id: "bad-wallet", name: "B", wallet_address: "0x123" } });
    expect(badWallet.status).toBe(400);
    expect(badWallet.body.error.message).toContain("wallet_address");

    const noName = await app.api("POST", "/agents", { body: { agent_id: "nameless" } });
    expect(noName.status).toBe(400);
    expect(noName.body.error.message).toContain("name");

    const profile = await app.api("GET", "/agents/no-wallet");
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ agent_id: "no-wallet", completion_rate: 0, total_earned: "0", wallet_address: null });
    expect(profile.body.api_key).toBeUndefined();
    expect((await app.api("GET", "/agents/nobody")).status).toBe(404);
  });
});

describe("bad input gets a 4xx naming the field", () => {
  it("validates job creation", async () => {
    const buyer = await app.registerAgent("validator");
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [jobBody({ price: "0.5" }), 400, "price"],
      [jobBody({ price: "abc" }), 400, "price"],
      [jobBody({ price: "1.0000001" }), 400, "price"],
      [jobBody({ expiry: Math.floor(Date.now() / 1000) - 10 }), 400, "expiry"],
      [jobBody({ expiry: "tomorrow" }), 400, "expiry"],
      [jobBody({ title: "" }), 400, "title"],
      [jobBody({ fee_bps: 6000 }), 400, "fee_bps"],
      [jobBody({ artifact_type: "video" }), 400, "artifact_type"],
      [jobBody({ artifact_type: "text", output_schema: { type: "object" } }), 400, "output_schema"],
      [{ title: "T" }, 400, "description"],
    ];
    for (const [body, status, field] of cases) {
      const res = await app.api("POST", "/jobs", { key: buyer.apiKey, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message, JSON.stringify(res.body)).toContain(field);
    }
    const invalidJson = await fetch(`${app.baseUrl}/api/v1/jobs`, {
      method: "POST",
      headers: { Authorization: `Bearer ${buyer.apiKey}`, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(invalidJson.status).toBe(400);
    expect((await invalidJson.json()).error.message).toContain("JSON");
  });

  it("answers 404 for unknown jobs and submissions, and 400 naming the id when it is not a UUID", async () => {
    const unknown = "00000000-0000-0000-0000-000000000000";
    expect((await app.api("GET", `/jobs/${unknown}`)).status).toBe(404);
    expect((await app.api("GET", `/submissions/${unknown}`)).status).toBe(404);
    const malformedJob = await app.api("GET", "/jobs/not-a-uuid");
    expect(malformedJob.status).toBe(400);
    expect(malformedJob.body.error.details.fields).toHaveProperty("task_id");
    const malformedSubmission = await app.api("GET", "/submissions/not-a-uuid");
    expect(malformedSubmission.status).toBe(400);
    expect(malformedSubmission.body.error.details.fields).toHaveProperty("submission_id");
    const route = await app.api("GET", "/no-such-route");
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe("NOT_FOUND");
    expect(route.body.error.message).toContain("openapi.json");
    expect((await app.api("GET", "/jobs?buyer_id=me")).status).toBe(401);
  });

  it("answers the same through the fetch handler Next serves /api/v1 with when it runs alone", async () => {
    const { handleRestRequest } = await import("~/server/http/handlers");
    const buyer = await app.registerAgent("fetch-door-buyer");
    const worker = await app.registerAgent("fetch-door-worker");
    const call = async (method: string, path: string, init: { key?: string; body?: string; contentType?: string } = {}) => {
      const headers: Record<string, string> = {};
      if (init.key) headers.Authorization = `Bearer ${init.key}`;
      if (init.contentType) headers["Content-Type"] = init.contentType;
      const res = await handleRestRequest(new Request(`http://agent-market.test/api/v1${path}`, { method, headers, body: init.body }));
      return { status: res.status, requestId: res.headers.get("x-request-id"), body: await res.json() };
    };
    const created = await call("POST", "/jobs", { key: buyer.apiKey, body: JSON.stringify(jobBody({ title: "Via fetch" })), contentType: "application/json" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: "Via fetch", buyer_id: "fetch-door-buyer", status: "open" });
    expect(created.requestId).toBeTruthy();

    const listed = await call("GET", "/jobs?buyer_id=fetch-door-buyer&limit=1");
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total: 1, limit: 1, jobs: [{ task_id: created.body.task_id }] });

    const badJson = await call("POST", "/jobs", { key: buyer.apiKey, body: "{not json", contentType: "application/json" });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toMatchObject({ code: "BAD_REQUEST", details: { field: "body" } });
    const missingField = await call("POST", "/jobs", { key: buyer.apiKey, body: JSON.stringify({ title: "T" }), contentType: "application/json" });
    expect(missingField.status).toBe(400);
    expect(missingField.body.error.message).toContain("description");
    const notJson = await call("POST", "/jobs", { key: buyer.apiKey, body: "title=T", contentType: "text/plain" });
    expect(notJson.status).toBe(415);

    // A POST with no body and no content type, as `curl -X POST .../claim` sends it.
    const taskId = await createFundedJob(app, await app.registerAgent("fetch-door-funder", { wallet: true }), "5");
    const claimed = await call("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ task_id: taskId, worker_id: "fetch-door-worker", job_status: "claimed" });

    const unknownRoute = await call("GET", "/no-such-route");
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.body.error.message).toContain("openapi.json");
    expect((await call("GET", "/openapi.json")).body.openapi).toMatch(/^3\./);
  });
});

describe("job rules", () => {
  it("enforces who may claim, submit, cancel and fund", async () => {
    const buyer = await app.registerAgent("rules-buyer", { wallet: true });
    const worker = await app.registerAgent("rules-worker");
    const outsider = await app.registerAgent("rules-outsider");
    const open = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody() });
    expect((await app.api("POST", `/jobs/${open.body.task_id}/claim`, { key: worker.apiKey })).status).toBe(409);

    const taskId = await createFundedJob(app, buyer, "5", { max_submissions: 1 });
    const self = await app.api("POST", `/jobs/${taskId}/claim`, { key: buyer.apiKey });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe("SELF_CLAIM");

    const claim = await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(claim.status).toBe(200);
    expect(claim.body.warnings[0]).toMatch(/wallet_address/);
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(409);

    const notParticipant = await app.api("POST", `/jobs/${taskId}/submit`, { key: outsider.apiKey, body: { content: "x" } });
    expect(notParticipant.status).toBe(403);
    const tooBig = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "x".repeat(50 * 1024 + 1) } });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toContain("content");

    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: outsider.apiKey })).status).toBe(403);
    expect((await app.api("POST", `/jobs/${taskId}/fund`, { key: outsider.apiKey, body: { tx_hash: `0x${"1".repeat(64)}` } })).status).toBe(403);

    const first = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "one" } });
    expect(first.status).toBe(202);
    // Manual oracle: the submission waits for review, so the job cannot be cancelled meanwhile.
    const cancelWhileJudging = await app.api("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey });
    expect(cancelWhileJudging.status).toBe(409);
    expect(cancelWhileJudging.body.error.code).toBe("JUDGING_IN_PROGRESS");
    const limit = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "two" } });
    expect(limit.status).toBe(409);
    expect(limit.body.error.code).toBe("SUBMISSION_LIMIT_REACHED");
  });

  it("gates claims on min_reputation", async () => {
    const buyer = await app.registerAgent("rep-buyer", { wallet: true });
    const newcomer = await app.registerAgent("rep-newcomer");
    const taskId = await createFundedJob(app, buyer, "5", { min_reputation: 0.5 });
    const res = await app.api("POST", `/jobs/${taskId}/claim`, { key: newcomer.apiKey });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("REPUTATION_TOO_LOW");
  });

  it("refuses a claim that lacks the job's capabilities, naming them, and takes it once they are declared", async () => {
    const buyer = await app.registerAgent("caps-buyer", { wallet: true });
    const worker = await app.registerAgent("caps-worker");
    await app.api("PATCH", "/agents/caps-worker", { key: worker.apiKey, body: { capabilities: ["python"] } });
    const taskId = await createFundedJob(app, buyer, "5", { required_capabilities: ["python", "sql"] });
    const refused = await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("MISSING_CAPABILITIES");
    expect(refused.body.error.message).toContain("sql");
    expect(refused.body.error.details).toEqual({ missing_capabilities: ["sql"] });
    // A refused claim leaves nothing behind.
    expect((await app.api("GET", `/jobs/${taskId}`)).body).toMatchObject({ status: "funded", active_workers: 0 });

    await app.api("PATCH", "/agents/caps-worker", { key: worker.apiKey, body: { capabilities: ["python", "SQL"] } });
    const claimed = await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ task_id: taskId, worker_id: "caps-worker", status: "claimed", job_status: "claimed" });
    const events = await app.api("GET", `/jobs/${taskId}/events`, { key: buyer.apiKey });
    expect(events.body.events.slice(-2).map((e: { kind: string }) => e.kind)).toEqual(["claimed", "worker_claimed"]);
    expect((await app.api("GET", "/agents/caps-worker")).body.jobs_claimed).toBe(1);
  });

  it("reads a job past its expiry as expired, refuses work on it and refunds it", async () => {
    const buyer = await app.registerAgent("expiry-buyer", { wallet: true });
    const worker = await app.registerAgent("expiry-worker");
    const taskId = await createFundedJob(app, buyer, "4");
    // No sweep in between: it would refund the expired job by itself before the buyer asks
    // (test/expiry-refunds.test.ts), and this is about the buyer asking first.
    const restart = await app.stopRunner();
    await app.db.job.update({ where: { id: taskId }, data: { expiry: new Date(Date.now() - 1000) } });
    const job = await app.api("GET", `/jobs/${taskId}`);
    expect(job.body.status).toBe("expired");
    const listed = await app.api("GET", `/jobs?status=expired&buyer_id=expiry-buyer`);
    expect(listed.body.jobs.map((j: { task_id: string }) => j.task_id)).toContain(taskId);
    expect((await app.api("GET", `/jobs?status=funded&buyer_id=expiry-buyer`)).body.jobs).toHaveLength(0);
    const claim = await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    expect(claim.status).toBe(409);
    expect(claim.body.error.code).toBe("JOB_EXPIRED");
    const before = await app.balanceOf(buyer.wallet!);
    const refund = await app.api("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey });
    expect(refund.status).toBe(200);
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(4_000_000n);
    await restart();
  });

  it("lists jobs newest first with database-level filters", async () => {
    const buyer = await app.registerAgent("list-buyer");
    const worker = await app.registerAgent("list-worker");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ title: `job ${i}` }) })).body.task_id);
    const mine = await app.api("GET", "/jobs?buyer_id=list-buyer&limit=2");
    expect(mine.body.total).toBe(3);
    expect(mine.body.jobs.map((j: { task_id: string }) => j.task_id)).toEqual([ids[2], ids[1]]);
    const page2 = await app.api("GET", "/jobs?buyer_id=list-buyer&limit=2&offset=2");
    expect(page2.body.jobs.map((j: { task_id: string }) => j.task_id)).toEqual([ids[0]]);
    expect((await app.api("GET", "/jobs?worker_id=list-worker")).body.total).toBe(0);
    const badStatus = await app.api("GET", "/jobs?status=bogus");
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error.message).toContain("status");
    expect((await app.api("GET", "/jobs?limit=500")).status).toBe(400);
  });
});
