import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob, inAnHour } from "./support/jobs";

// Issue 3's publisher and worker features, over HTTP, with the manual oracle so each test
// decides verdicts itself.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["life-admin"] });
});

afterAll(async () => {
  await app?.stop();
});

const jobBody = (extra: Record<string, unknown> = {}) => ({ title: "T", description: "D", rubric: "R", price: "5", expiry: inAnHour(), ...extra });
let walletCounter = 0x5000;
const freshWallet = () => `0x${(walletCounter++).toString(16).padStart(40, "0")}` as `0x${string}`;

async function passSubmission(buyerKey: string, submissionId: string) {
  const res = await app.api("POST", `/submissions/${submissionId}/verdict`, { key: buyerKey, body: { passed: true, reason: "ok" } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe("updating a job", () => {
  it("changes anything while open, only a later expiry once funded, and keeps the history", async () => {
    const buyer = await app.registerAgent("patch-buyer", { wallet: true });
    const other = await app.registerAgent("patch-other");
    const created = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody() });
    const id = created.body.task_id;

    const patched = await app.api("PATCH", `/jobs/${id}`, { key: buyer.apiKey, body: { title: "Better title", rubric: "1. Better", max_retries: 3 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Better title", rubric: "1. Better", max_retries: 3 });
    expect((await app.api("PATCH", `/jobs/${id}`, { key: other.apiKey, body: { title: "Mine now" } })).status).toBe(403);
    expect((await app.api("PATCH", `/jobs/${id}`, { key: buyer.apiKey, body: {} })).status).toBe(400);

    const sharedPrize = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ max_winners: 3, max_submissions: 5 }) });
    const fewer = await app.api("PATCH", `/jobs/${sharedPrize.body.task_id}`, { key: buyer.apiKey, body: { max_submissions: 2 } });
    expect(fewer.status).toBe(400);
    expect(fewer.body.error.message).toContain("max_submissions");
    expect((await app.api("GET", `/jobs/${sharedPrize.body.task_id}`)).body.max_submissions).toBe(5);

    const fundedId = await createFundedJob(app, buyer, "5");
    const lockedField = await app.api("PATCH", `/jobs/${fundedId}`, { key: buyer.apiKey, body: { rubric: "changed" } });
    expect(lockedField.status).toBe(409);
    expect(lockedField.body.error.message).toContain("rubric");
    const earlier = await app.api("PATCH", `/jobs/${fundedId}`, { key: buyer.apiKey, body: { expiry: inAnHour() - 600 } });
    expect(earlier.status).toBe(400);
    expect(earlier.body.error.message).toContain("expiry");
    const later = await app.api("PATCH", `/jobs/${fundedId}`, { key: buyer.apiKey, body: { expiry: inAnHour() + 3600 } });
    expect(later.status).toBe(200);

    const events = await app.api("GET", `/jobs/${id}/events`, { key: buyer.apiKey });
    expect(events.status).toBe(200);
    const update = events.body.events.find((e: { kind: string }) => e.kind === "updated");
    expect(update.actor).toBe("patch-buyer");
    expect(update.data.title).toEqual({ from: "T", to: "Better title" });
    expect((await app.api("GET", `/jobs/${id}/events`, { key: other.apiKey })).status).toBe(403);
  });
});

describe("idempotency keys", () => {
  it("replays the first response for the same key and body, refuses a different body, and keeps keys per agent", async () => {
    const buyer = await app.registerAgent("idem-buyer");
    const other = await app.registerAgent("idem-other");
    const body = jobBody({ title: "Once only" });
    const first = await app.api("POST", "/jobs", { key: buyer.apiKey, body, headers: { "Idempotency-Key": "k-1" } });
    const second = await app.api("POST", "/jobs", { key: buyer.apiKey, body, headers: { "Idempotency-Key": "k-1" } });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    const different = await app.api("POST", "/jobs", { key: buyer.apiKey, body: { ...body, title: "Twice" }, headers: { "Idempotency-Key": "k-1" } });
    expect(different.status).toBe(422);
    expect(different.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    // Another agent's identical key is its own.
    const theirs = await app.api("POST", "/jobs", { key: other.apiKey, body, headers: { "Idempotency-Key": "k-1" } });
    expect(theirs.status).toBe(201);
    expect(theirs.body.task_id).not.toBe(first.body.task_id);
    expect((await app.api("GET", "/jobs?buyer_id=idem-buyer")).body.total).toBe(1);

    // An error is replayed too.
    const bad = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: "0.1" }), headers: { "Idempotency-Key": "k-2" } });
    const badAgain = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: "0.1" }), headers: { "Idempotency-Key": "k-2" } });
    expect([bad.status, badAgain.status]).toEqual([400, 400]);
    expect(badAgain.body).toEqual(bad.body);
  });

  it("creates one job when two identical requests race", async () => {
    const buyer = await app.registerAgent("idem-racer");
    const body = jobBody({ title: "Race" });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => app.api("POST", "/jobs", { key: buyer.apiKey, body, headers: { "Idempotency-Key": "race-key" } })),
    );
    for (const r of results) expect([201, 409]).toContain(r.status);
    const created = results.filter((r) => r.status === 201);
    expect(new Set(created.map((r) => r.body.task_id)).size).toBe(1);
    expect((await app.api("GET", "/jobs?buyer_id=idem-racer")).body.total).toBe(1);
    const inFlight = results.find((r) => r.status === 409);
    if (inFlight) expect(inFlight.body.error.code).toBe("IDEMPOTENCY_KEY_IN_USE");
  });
});

describe("money: fees, overpayment, receipts, multiple winners", () => {
  it("pays with the job's fee_bps, returns an overpayment once, and gives buyer and winner a receipt", async () => {
    const buyer = await app.registerAgent("fee-buyer", { wallet: true });
    const wallet = freshWallet();
    const worker = await app.registerAgent("fee-worker", { wallet });
    const stranger = await app.registerAgent("fee-stranger");
    const created = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: "10", fee_bps: 1000 }) });
    expect(created.body.fee_bps).toBe(1000);
    const id = created.body.task_id;
    await app.mintUsdc(buyer.wallet!, "12");
    const tx = await app.transferUsdc(buyer.privateKey!, app.opsAddress, "12");
    await app.mine(12);
    const funded = await app.api("POST", `/jobs/${id}/fund`, { key: buyer.apiKey, body: { tx_hash: tx } });
    expect(funded.body.deposit_amount).toBe("12");
    expect(funded.body.warnings[0]).toMatch(/more than 10% over/);

    const before = await app.balanceOf(buyer.wallet!);
    const excess = await app.api("POST", `/jobs/${id}/refund-excess`, { key: buyer.apiKey });
    expect(excess.status).toBe(200);
    expect(excess.body).toMatchObject({ amount: "2", status: "success" });
    expect((await app.balanceOf(buyer.wallet!)) - before).toBe(parseUsdc("2"));
    expect((await app.api("POST", `/jobs/${id}/refund-excess`, { key: buyer.apiKey })).status).toBe(409);

    await app.api("POST", `/jobs/${id}/claim`, { key: worker.apiKey });
    const sub = await app.api("POST", `/jobs/${id}/submit`, { key: worker.apiKey, body: { content: "x".repeat(5000) } });
    await passSubmission(buyer.apiKey, sub.body.submission_id);
    await app.waitFor("paid", async () => (await app.balanceOf(wallet)) === parseUsdc("9"));

    const publicView = await app.api("GET", `/jobs/${id}`);
    expect(publicView.body.result_data).toBeNull();
    expect(publicView.body.result_size).toBe(5000);
    expect(publicView.body.result_url).toBe(`/api/v1/jobs/${id}/result`);
    const buyerView = await app.api("GET", `/jobs/${id}`, { key: buyer.apiKey });
    expect(buyerView.body.result_data).toBeNull(); // over the inline limit
    const result = await app.api("GET", `/jobs/${id}/result`, { key: buyer.apiKey });
    expect(result.status).toBe(200);
    expect(result.body.result_data).toHaveLength(5000);
    expect((await app.api("GET", `/jobs/${id}/result`, { key: stranger.apiKey })).status).toBe(403);

    // A transfer has its hash once broadcast, and is `success` once CONFIRMATIONS blocks deep.
    const receipt = await app.waitFor("receipt complete", async () => {
      const r = await app.api("GET", `/jobs/${id}/receipt`, { key: worker.apiKey });
      return r.body.payouts?.[0]?.fee_tx_hash && r.body.payouts[0].status === "success" ? r : null;
    });
    expect(receipt.body.payouts[0]).toMatchObject({ worker_id: "fee-worker", gross: "10", fee: "1", net: "9", status: "success" });
    expect(receipt.body.payouts[0].tx_hash).toMatch(/^0x/);
    expect(receipt.body.refunds[0]).toMatchObject({ kind: "excess_refund", amount: "2" });
    expect((await app.api("GET", `/jobs/${id}/receipt`, { key: buyer.apiKey })).status).toBe(200);
    expect((await app.api("GET", `/jobs/${id}/receipt`, { key: stranger.apiKey })).status).toBe(403);
  });

  it("splits the price between max_winners passing submissions, each paid separately", async () => {
    const buyer = await app.registerAgent("multi-buyer", { wallet: true });
    const wallets = [freshWallet(), freshWallet(), freshWallet()];
    const workers = await Promise.all(wallets.map((w, i) => app.registerAgent(`multi-worker-${i}`, { wallet: w })));
    const treasuryBefore = await app.balanceOf(app.treasury);
    const id = await createFundedJob(app, buyer, "10", { max_winners: 2 });
    const subs = [];
    for (const w of workers) {
      await app.api("POST", `/jobs/${id}/claim`, { key: w.apiKey });
      subs.push((await app.api("POST", `/jobs/${id}/submit`, { key: w.apiKey, body: { content: `from ${w.agentId}` } })).body);
    }
    const first = await passSubmission(buyer.apiKey, subs[0].submission_id);
    expect(first.won).toBe(true);
    expect((await app.api("GET", `/jobs/${id}`)).body.status).toBe("claimed");
    expect((await passSubmission(buyer.apiKey, subs[1].submission_id)).won).toBe(true);
    // The job is resolved: a third pass wins nothing.
    expect((await passSubmission(buyer.apiKey, subs[2].submission_id)).won).toBe(false);

    const job = await app.waitFor("both paid", async () => {
      const j = await app.api("GET", `/jobs/${id}`);
      return j.body.winners.length === 2 && j.body.transfers.every((t: { status: string }) => t.status === "success") ? j.body : null;
    });
    expect(job.status).toBe("resolved");
    expect(job.winners.map((w: { worker_id: string; amount: string }) => [w.worker_id, w.amount])).toEqual([
      ["multi-worker-0", "5"],
      ["multi-worker-1", "5"],
    ]);
    expect(await app.balanceOf(wallets[0]!)).toBe(parseUsdc("4"));
    expect(await app.balanceOf(wallets[1]!)).toBe(parseUsdc("4"));
    expect(await app.balanceOf(wallets[2]!)).toBe(0n);
    expect((await app.balanceOf(app.treasury)) - treasuryBefore).toBe(parseUsdc("2"));
    expect(job.transfers.filter((t: { kind: string }) => t.kind === "payout")).toHaveLength(2);
  });
});

describe("the state machine", () => {
  it("goes open → funded → claimed → funded (unclaim) → claimed → resolved, each step in the log", async () => {
    const buyer = await app.registerAgent("sm-buyer", { wallet: true });
    const worker = await app.registerAgent("sm-worker", { wallet: freshWallet() });
    const other = await app.registerAgent("sm-other");
    const id = await createFundedJob(app, buyer, "5");
    expect((await app.api("GET", `/jobs/${id}`)).body).toMatchObject({ status: "funded", active_workers: 0 });

    expect((await app.api("POST", `/jobs/${id}/unclaim`, { key: worker.apiKey })).status).toBe(404);
    const claim = await app.api("POST", `/jobs/${id}/claim`, { key: worker.apiKey });
    expect(claim.body.job_status).toBe("claimed");
    expect((await app.api("GET", `/jobs/${id}`)).body).toMatchObject({ status: "claimed", active_workers: 1 });
    const left = await app.api("POST", `/jobs/${id}/unclaim`, { key: worker.apiKey, body: { reason: "too hard" } });
    expect(left.status).toBe(200);
    expect(left.body).toMatchObject({ status: "unclaimed", worker_id: "sm-worker" });
    const afterLeaving = await app.api("GET", `/jobs/${id}`);
    expect(afterLeaving.body).toMatchObject({ status: "funded", active_workers: 0, participants: [] });

    await app.api("POST", `/jobs/${id}/claim`, { key: worker.apiKey });
    await app.api("POST", `/jobs/${id}/claim`, { key: other.apiKey });
    const sub = await app.api("POST", `/jobs/${id}/submit`, { key: worker.apiKey, body: { content: "done" } });
    const whileJudging = await app.api("POST", `/jobs/${id}/unclaim`, { key: worker.apiKey });
    expect(whileJudging.status).toBe(400);
    expect(whileJudging.body.error.code).toBe("SUBMISSION_JUDGING");
    expect((await app.api("GET", `/jobs/${id}`)).body).toMatchObject({ active_workers: 2, submitted_workers: 1, submission_count: 1 });
    await passSubmission(buyer.apiKey, sub.body.submission_id);
    const resolvedUnclaim = await app.api("POST", `/jobs/${id}/unclaim`, { key: other.apiKey });
    expect(resolvedUnclaim.status).toBe(400);
    expect(resolvedUnclaim.body.error.code).toBe("JOB_ALREADY_RESOLVED");

    const events = (await app.api("GET", `/jobs/${id}/events`, { key: worker.apiKey })).body.events;
    const transitions = events.filter((e: { to_status: string | null; from_status: string | null }) => e.to_status && e.from_status !== e.to_status).map((e: { from_status: string; to_status: string }) => `${e.from_status ?? ""}>${e.to_status}`);
    expect(transitions).toEqual([">open", "open>funded", "funded>claimed", "claimed>funded", "funded>claimed", "claimed>resolved"]);
    expect(events.find((e: { kind: string }) => e.kind === "worker_unclaimed").reason).toBe("too hard");
    expect(events.find((e: { kind: string }) => e.kind === "winner_selected").actor).toBe("buyer:sm-buyer");
  });

  it("ends a cancelled job in refunded once the refund lands", async () => {
    const buyer = await app.registerAgent("sm-refund-buyer", { wallet: true });
    const id = await createFundedJob(app, buyer, "5");
    await app.api("POST", `/jobs/${id}/cancel`, { key: buyer.apiKey, body: { reason: "changed my mind" } });
    await app.api("POST", `/jobs/${id}/refund`, { key: buyer.apiKey });
    const job = await app.waitFor("refunded", async () => {
      const j = await app.api("GET", `/jobs/${id}`);
      return j.body.status === "refunded" ? j.body : null;
    });
    expect(job.refund_status).toBe("success");
    const events = (await app.api("GET", `/jobs/${id}/events`, { key: buyer.apiKey })).body.events.map((e: { kind: string }) => e.kind);
    expect(events).toEqual(expect.arrayContaining(["cancelled", "refund_requested", "refunded"]));
    expect((await app.api("POST", `/jobs/${id}/refund`, { key: buyer.apiKey })).body.error.code).toBe("ALREADY_REFUNDED");
  });
});

describe("finding work", () => {
  it("filters by artifact type, price, capability, eligibility and what I have not claimed, all in one query", async () => {
    const buyer = await app.registerAgent("find-buyer", { wallet: true });
    const worker = await app.registerAgent("find-worker");
    const a = await createFundedJob(app, buyer, "3", { artifact_type: "json", title: "cheap json" });
    const b = await createFundedJob(app, buyer, "20", { required_capabilities: ["Translation"], title: "needs translation" });
    const c = await createFundedJob(app, buyer, "8", { min_reputation: 0.9, title: "experts only" });
    const mine = (q: string, key?: string) => app.api("GET", `/jobs?buyer_id=find-buyer&${q}`, { key });
    const ids = (r: { body: { jobs: { task_id: string }[] } }) => r.body.jobs.map((j) => j.task_id);

    expect(ids(await mine("artifact_type=json"))).toEqual([a]);
    expect(ids(await mine("min_price=5&max_price=10"))).toEqual([c]);
    expect(ids(await mine("capability=translation"))).toEqual([b]);
    expect(ids(await mine("sort_by=price&sort_order=asc"))).toEqual([a, c, b]);
    expect(ids(await mine("eligible=true", worker.apiKey))).toEqual([a]);
    await app.api("POST", `/jobs/${a}/claim`, { key: worker.apiKey });
    expect(ids(await mine("unclaimed_by_me=true", worker.apiKey))).toEqual([c, b]);
    expect(ids(await app.api("GET", "/jobs?worker_id=me", { key: worker.apiKey }))).toEqual([a]);
    expect((await app.api("GET", "/jobs?eligible=true")).status).toBe(401);
    expect((await app.api("GET", "/jobs?min_price=abc")).body.error.message).toContain("min_price");
    const missingCap = await app.api("POST", `/jobs/${b}/claim`, { key: worker.apiKey });
    expect(missingCap.status).toBe(403);
    expect(missingCap.body.error.details.missing_capabilities).toEqual(["translation"]);
  });

  it("pages by cursor without repeating or skipping while jobs are being added, and totals add up", async () => {
    const buyer = await app.registerAgent("page-buyer");
    for (let i = 0; i < 25; i++) await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ title: `p${i}` }) });
    const first = await app.api("GET", "/jobs?buyer_id=page-buyer&limit=10");
    expect(first.body).toMatchObject({ total: 25, total_is_estimate: false });
    const seen: string[] = first.body.jobs.map((j: { task_id: string }) => j.task_id);
    let cursor = first.body.next_cursor;
    // Newer jobs arrive while we page: they sort before the cursor, so they never shift a page.
    for (let i = 0; i < 5; i++) await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ title: `late${i}` }) });
    while (cursor) {
      const page = await app.api("GET", `/jobs?buyer_id=page-buyer&limit=10&cursor=${cursor}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.jobs.map((j: { task_id: string }) => j.task_id));
      cursor = page.body.next_cursor;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    const all = await app.api("GET", "/jobs?buyer_id=page-buyer&limit=200");
    expect(all.body.total).toBe(30);
    expect(all.body.jobs.slice(5).map((j: { task_id: string }) => j.task_id)).toEqual(seen);
    expect((await app.api("GET", "/jobs?cursor=garbage")).status).toBe(400);
    const mismatched = await app.api("GET", `/jobs?buyer_id=page-buyer&limit=10&sort_by=price&cursor=${first.body.next_cursor}`);
    expect(mismatched.status).toBe(400);
    expect(mismatched.body.error.message).toContain("cursor");
  });
});

describe("submissions across jobs", () => {
  it("lists my submissions with content, and redacts other workers' content on a job", async () => {
    const buyer = await app.registerAgent("subs-buyer", { wallet: true });
    const w1 = await app.registerAgent("subs-w1");
    const w2 = await app.registerAgent("subs-w2");
    const id = await createFundedJob(app, buyer, "5", { max_submissions: 10 });
    await app.api("POST", `/jobs/${id}/claim`, { key: w1.apiKey });
    await app.api("POST", `/jobs/${id}/claim`, { key: w2.apiKey });
    await app.api("POST", `/jobs/${id}/submit`, { key: w1.apiKey, body: { content: "w1 secret" } });
    await app.api("POST", `/jobs/${id}/submit`, { key: w2.apiKey, body: { content: "w2 secret" } });

    const mine = await app.api("GET", "/submissions?worker_id=me", { key: w1.apiKey });
    expect(mine.body.total).toBe(1);
    expect(mine.body.submissions[0].content).toBe("w1 secret");
    const theirs = await app.api("GET", "/submissions?worker_id=subs-w2", { key: w1.apiKey });
    expect(theirs.body.submissions[0].content).toBeNull();
    const onJob = await app.api("GET", `/jobs/${id}/submissions?limit=1`, { key: w1.apiKey });
    expect(onJob.body.total).toBe(2);
    expect(onJob.body.submissions[0].content).toBe("w1 secret");
    const page2 = await app.api("GET", `/jobs/${id}/submissions?limit=1&cursor=${onJob.body.next_cursor}`, { key: w1.apiKey });
    expect(page2.body.submissions[0]).toMatchObject({ worker_id: "subs-w2", content: null });
    const buyerView = await app.api("GET", `/jobs/${id}/submissions`, { key: buyer.apiKey });
    expect(buyerView.body.submissions.map((s: { content: string }) => s.content)).toEqual(["w1 secret", "w2 secret"]);
    expect((await app.api("GET", "/submissions?worker_id=me")).status).toBe(401);
  });
});

describe("platform", () => {
  it("reports stats and deep health", async () => {
    const stats = await app.api("GET", "/platform/stats");
    expect(stats.status).toBe(200);
    expect(stats.body.jobs.total).toBeGreaterThan(0);
    expect(Number(stats.body.payouts)).toBeGreaterThan(0);
    expect(stats.body.agents.total).toBeGreaterThan(0);
    expect(stats.body.median_time_to_resolution_seconds).not.toBeNull();
    const health = await app.api("GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("ok");
    for (const part of ["database", "chain", "oracle", "background_runner"]) {
      expect(health.body.checks[part].ok, part).toBe(true);
      expect(typeof health.body.checks[part].latency_ms).toBe("number");
    }
    expect(health.body.checks.background_runner.detail).toContain("workers running");
  });
});
