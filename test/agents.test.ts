import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Agent profiles, the directory, deactivation and earnings, over HTTP on a real Postgres and a
// real anvil. The default app judges manually: the buyer's verdict decides and payouts go on chain.

const ADMIN_ID = "agents-admin";
let app: TestApp;
let admin: RegisteredAgent;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: [ADMIN_ID] });
  admin = await app.registerAgent(ADMIN_ID);
});

afterAll(async () => {
  await app?.stop();
});

const ids = (agents: { agent_id: string }[]) => agents.map((a) => a.agent_id);

/** Claims, submits and has the buyer pass the work; resolves once the payout row exists. */
async function winJob(taskId: string, buyer: RegisteredAgent, worker: RegisteredAgent, content = "the finding, summarised") {
  expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
  const submitted = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content } });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  const verdict = await app.api("POST", `/submissions/${submitted.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "Does the job" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
  expect(verdict.body.won).toBe(true);
}

describe("the API document", () => {
  it("describes the agent endpoints", async () => {
    const doc = await app.api("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths["/agents"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.body.paths["/agents/{agent_id}"])).toEqual(expect.arrayContaining(["get", "patch"]));
    expect(doc.body.paths["/agents/{agent_id}/deactivate"].post).toBeDefined();
    expect(doc.body.paths["/agents/{agent_id}/earnings"].get).toBeDefined();
    expect(doc.body.paths["/agents"].get.summary).toContain("leaderboard");
  });
});

describe("registration with capabilities", () => {
  it("stores tags lower-case and unique, artifact types once each, and reports the agent active", async () => {
    const res = await app.api("POST", "/agents", {
      body: { agent_id: "cap-reg", name: "Cap", capabilities: ["Python", " python ", "Summarisation"], preferred_artifact_types: ["markdown", "text", "markdown"] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      capabilities: ["python", "summarisation"],
      preferred_artifact_types: ["text", "markdown"],
      active: true,
      deactivated_at: null,
    });
    const profile = await app.api("GET", "/agents/cap-reg");
    expect(profile.body.capabilities).toEqual(["python", "summarisation"]);

    const badType = await app.api("POST", "/agents", { body: { agent_id: "cap-bad", name: "Bad", preferred_artifact_types: ["video"] } });
    expect(badType.status).toBe(400);
    expect(badType.body.error.message).toContain("preferred_artifact_types");
    const emptyTag = await app.api("POST", "/agents", { body: { agent_id: "cap-bad", name: "Bad", capabilities: [" "] } });
    expect(emptyTag.status).toBe(400);
    expect(emptyTag.body.error.message).toContain("capabilities");
  });
});

describe("PATCH /agents/{agent_id}", () => {
  it("edits the caller's own profile; fields left out stay; no wallet brings a warning", async () => {
    const me = await app.registerAgent("patch-self");
    const wallet = "0x00000000000000000000000000000000000ab1e5";
    const res = await app.api("PATCH", "/agents/patch-self", {
      key: me.apiKey,
      body: { name: "Renamed", wallet_address: wallet, capabilities: ["SQL", "sql", "Go"], preferred_artifact_types: ["json", "code"] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      agent_id: "patch-self",
      name: "Renamed",
      wallet_address: getAddress(wallet),
      capabilities: ["go", "sql"],
      preferred_artifact_types: ["json", "code"],
      warnings: [],
    });

    const onlyTags = await app.api("PATCH", "/agents/patch-self", { key: me.apiKey, body: { capabilities: ["rust"] } });
    expect(onlyTags.status).toBe(200);
    expect(onlyTags.body).toMatchObject({ name: "Renamed", wallet_address: getAddress(wallet), capabilities: ["rust"], preferred_artifact_types: ["json", "code"] });

    const noWallet = await app.api("PATCH", "/agents/patch-self", { key: me.apiKey, body: { wallet_address: null } });
    expect(noWallet.status).toBe(200);
    expect(noWallet.body.wallet_address).toBeNull();
    expect(noWallet.body.warnings[0]).toMatch(/wallet_address/);

    const profile = await app.api("GET", "/agents/patch-self");
    expect(profile.body).toMatchObject({ name: "Renamed", wallet_address: null, capabilities: ["rust"] });
    expect(profile.body.warnings).toBeUndefined();
  });

  it("answers 400 naming the field, 401 without a key, 403 for another agent, 404 for an unknown one", async () => {
    const owner = await app.registerAgent("patch-owner");
    const other = await app.registerAgent("patch-other");

    const badWallet = await app.api("PATCH", "/agents/patch-owner", { key: owner.apiKey, body: { wallet_address: "0x123" } });
    expect(badWallet.status).toBe(400);
    expect(badWallet.body.error.code).toBe("INVALID_WALLET");
    expect(badWallet.body.error.message).toContain("wallet_address");
    expect(badWallet.body.error.details).toMatchObject({ field: "wallet_address" });

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ preferred_artifact_types: ["video"] }, "preferred_artifact_types"],
      [{ capabilities: "python" }, "capabilities"],
      [{ name: "" }, "name"],
      [{}, "body"],
      [{ wallet: "0x00000000000000000000000000000000000ab1e5" }, "wallet_address"],
    ];
    for (const [body, field] of cases) {
      const res = await app.api("PATCH", "/agents/patch-owner", { key: owner.apiKey, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message, JSON.stringify(res.body)).toContain(field);
    }

    expect((await app.api("PATCH", "/agents/patch-owner", { body: { name: "Anon" } })).status).toBe(401);

    const foreign = await app.api("PATCH", "/agents/patch-owner", { key: other.apiKey, body: { name: "Hijacked", wallet_address: "0x00000000000000000000000000000000000bad00" } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe("FORBIDDEN");
    const untouched = await app.api("GET", "/agents/patch-owner");
    expect(untouched.body).toMatchObject({ name: "patch-owner", wallet_address: null });

    const unknown = await app.api("PATCH", "/agents/nobody-here", { key: owner.apiKey, body: { name: "X" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("AGENT_NOT_FOUND");

    const byAdmin = await app.api("PATCH", "/agents/patch-owner", { key: admin.apiKey, body: { name: "Fixed by admin" } });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.name).toBe("Fixed by admin");
  });
});

describe("GET /agents", () => {
  it("filters in SQL, sorts (reputation desc is the leaderboard) and pages consistently", async () => {
    // Stats only move through paid jobs; set them directly so the ordering is known.
    const stats: Array<[string, string, string[], number, number, bigint]> = [
      ["dir-alpha", "Dir Alpha", ["python"], 0.9, 5, 40_000_000n],
      ["dir-bravo", "dir BRAVO", ["python", "sql"], 0.5, 9, 10_000_000n],
      ["dir-charlie", "Dir Charlie", ["sql"], 0.7, 1, 90_000_000n],
      ["dir-delta", "Dir 100%_off", [], 0.2, 3, 0n],
      ["dir-echo", "Dir 100x off", ["python"], 0.3, 0, 5_000_000n],
    ];
    for (const [id, name, capabilities, reputation, jobsCompleted, totalEarned] of stats) {
      const res = await app.api("POST", "/agents", { body: { agent_id: id, name, capabilities } });
      expect(res.status).toBe(201);
      await app.db.agent.update({ where: { id }, data: { reputation, jobsCompleted, jobsClaimed: jobsCompleted, totalEarned } });
    }
    const list = async (query: string) => {
      const res = await app.api("GET", `/agents?name=dir&${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { agents: { agent_id: string; total_earned: string }[]; total: number; limit: number; offset: number };
    };

    const all = await list("");
    expect(all.total).toBe(5);
    expect(all.limit).toBe(50);
    expect(all.offset).toBe(0);
    expect(ids(all.agents)).toEqual(["dir-echo", "dir-delta", "dir-charlie", "dir-bravo", "dir-alpha"]);

    expect(ids((await list("sort_by=reputation&sort_order=desc")).agents)).toEqual(["dir-alpha", "dir-charlie", "dir-bravo", "dir-echo", "dir-delta"]);
    expect(ids((await list("sort_by=jobs_completed&sort_order=asc")).agents)).toEqual(["dir-echo", "dir-charlie", "dir-delta", "dir-alpha", "dir-bravo"]);
    const byEarnings = await list("sort_by=total_earned");
    expect(byEarnings.agents.map((a) => a.total_earned)).toEqual(["90", "40", "10", "5", "0"]);

    expect(ids((await list("capability=PYTHON&sort_by=reputation")).agents)).toEqual(["dir-alpha", "dir-bravo", "dir-echo"]);
    expect(ids((await list("min_reputation=0.5&sort_by=reputation")).agents)).toEqual(["dir-alpha", "dir-charlie", "dir-bravo"]);
    expect(ids((await list("capability=sql&min_reputation=0.6")).agents)).toEqual(["dir-charlie"]);
    const bravo = await app.api("GET", "/agents?name=Dir%20Bravo");
    expect(ids(bravo.body.agents)).toEqual(["dir-bravo"]);
    // LIKE wildcards in the filter are matched literally.
    expect(ids((await app.api("GET", `/agents?name=${encodeURIComponent("100%_")}`)).body.agents)).toEqual(["dir-delta"]);

    // Pages of 2 cover the whole list once, in order, with the same total.
    const pages = [];
    for (let offset = 0; offset < 6; offset += 2) {
      const page = await list(`sort_by=reputation&limit=2&offset=${offset}`);
      expect(page.total).toBe(5);
      expect(page.limit).toBe(2);
      expect(page.offset).toBe(offset);
      pages.push(...ids(page.agents));
    }
    expect(pages).toEqual(["dir-alpha", "dir-charlie", "dir-bravo", "dir-echo", "dir-delta"]);

    for (const [query, field] of [
      ["limit=201", "limit"],
      ["limit=0", "limit"],
      ["offset=-1", "offset"],
      ["sort_by=name", "sort_by"],
      ["sort_order=up", "sort_order"],
      ["min_reputation=high", "min_reputation"],
      ["include_inactive=yes", "include_inactive"],
    ]) {
      const res = await app.api("GET", `/agents?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.message, query).toContain(field);
    }
  });
});

describe("POST /agents/{agent_id}/deactivate", () => {
  it("stops the agent's keys at once, releases its claims, keeps its history and is idempotent", async () => {
    const buyer = await app.registerAgent("deact-buyer", { wallet: true });
    const worker = await app.registerAgent("deact-worker");
    const colleague = await app.registerAgent("deact-colleague");
    const soloJob = await createFundedJob(app, buyer, "3");
    const sharedJob = await createFundedJob(app, buyer, "3", { max_winners: 2 });
    for (const [taskId, agent] of [[soloJob, worker], [sharedJob, worker], [sharedJob, colleague]] as const) {
      expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: agent.apiKey })).status).toBe(200);
    }
    expect((await app.api("GET", `/jobs/${soloJob}`)).body).toMatchObject({ status: "claimed", active_workers: 1 });
    const secondKey = await app.api("POST", "/agents/deact-worker/api-keys", { key: worker.apiKey });
    expect(secondKey.status).toBe(201);

    const byOther = await app.api("POST", "/agents/deact-worker/deactivate", { key: colleague.apiKey });
    expect(byOther.status).toBe(403);
    expect((await app.api("GET", "/agents/deact-worker")).body.active).toBe(true);
    expect((await app.api("POST", "/agents/nobody-here/deactivate", { key: worker.apiKey })).status).toBe(404);
    expect((await app.api("POST", "/agents/deact-worker/deactivate")).status).toBe(401);

    const res = await app.api("POST", "/agents/deact-worker/deactivate", { key: worker.apiKey });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ agent_id: "deact-worker", active: false });
    expect(Date.parse(res.body.deactivated_at)).not.toBeNaN();

    // Every key of the agent answers 401 from the very next request, on any endpoint.
    for (const key of [worker.apiKey, secondKey.body.api_key]) {
      const denied = await app.api("GET", "/agents/deact-worker/api-keys", { key });
      expect(denied.status).toBe(401);
      expect(denied.body.error.code).toBe("UNAUTHORIZED");
      expect((await app.api("GET", "/jobs", { key })).status).toBe(401);
    }

    // The only worker left the solo job: back to funded, nobody active.
    const solo = await app.api("GET", `/jobs/${soloJob}`);
    expect(solo.body).toMatchObject({ status: "funded", active_workers: 0, participants: [] });
    // The shared job keeps its other worker.
    const shared = await app.api("GET", `/jobs/${sharedJob}`);
    expect(shared.body).toMatchObject({ status: "claimed", active_workers: 1 });
    expect(shared.body.participants.map((p: { worker_id: string }) => p.worker_id)).toEqual(["deact-colleague"]);

    const events = await app.api("GET", `/jobs/${soloJob}/events?limit=200`, { key: buyer.apiKey });
    const unclaimed = events.body.events.find((e: { kind: string }) => e.kind === "worker_unclaimed");
    expect(unclaimed).toMatchObject({ actor: "deact-worker", reason: "agent deactivated", data: { worker_id: "deact-worker" } });
    expect(events.body.events.some((e: { from_status: string; to_status: string }) => e.from_status === "claimed" && e.to_status === "funded")).toBe(true);

    // History stays: the participation rows are kept, marked as left.
    const rows = await app.db.jobParticipant.findMany({ where: { workerId: "deact-worker" } });
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.unclaimedAt !== null)).toBe(true);

    // Idempotent: the same state again (the agent's own keys are dead, so an admin asks).
    const again = await app.api("POST", "/agents/deact-worker/deactivate", { key: admin.apiKey });
    expect(again.status).toBe(200);
    expect(again.body.deactivated_at).toBe(res.body.deactivated_at);
    expect((await app.api("GET", `/jobs/${sharedJob}`)).body.active_workers).toBe(1);

    // Still a public profile, but out of the directory unless asked for, and frozen.
    expect((await app.api("GET", "/agents/deact-worker")).body).toMatchObject({ active: false, deactivated_at: res.body.deactivated_at });
    expect(ids((await app.api("GET", "/agents?name=deact-")).body.agents)).toEqual(["deact-colleague", "deact-buyer"]);
    expect(ids((await app.api("GET", "/agents?name=deact-&include_inactive=true")).body.agents)).toContain("deact-worker");
    const edit = await app.api("PATCH", "/agents/deact-worker", { key: admin.apiKey, body: { name: "Back" } });
    expect(edit.status).toBe(403);
    expect(edit.body.error.code).toBe("AGENT_DEACTIVATED");

    // The released job is workable again for someone else.
    const rescuer = await app.registerAgent("deact-rescuer");
    expect((await app.api("POST", `/jobs/${soloJob}/claim`, { key: rescuer.apiKey })).status).toBe(200);
    expect((await app.api("GET", `/jobs/${soloJob}`)).body).toMatchObject({ status: "claimed", active_workers: 1 });
  });

  it("lets an admin deactivate another agent", async () => {
    const target = await app.registerAgent("deact-by-admin");
    const res = await app.api("POST", "/agents/deact-by-admin/deactivate", { key: admin.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect((await app.api("GET", "/agents/deact-by-admin/api-keys", { key: target.apiKey })).status).toBe(401);
  });
});

describe("GET /agents/{agent_id}/earnings", () => {
  it("lists gross, fee and net per paid job, newest first, matching what reached the wallet", async () => {
    const buyer = await app.registerAgent("earn-buyer", { wallet: true });
    const wallet = "0x00000000000000000000000000000000000ea2e5" as const;
    const worker = await app.registerAgent("earn-worker", { wallet });
    const outsider = await app.registerAgent("earn-outsider");

    const empty = await app.api("GET", "/agents/earn-worker/earnings", { key: worker.apiKey });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ earnings: [], totals: { net_total: "0", count: 0 }, total: 0, limit: 50, offset: 0 });

    const before = await app.balanceOf(wallet);
    const treasuryBefore = await app.balanceOf(app.treasury);
    const firstJob = await createFundedJob(app, buyer, "10");
    await winJob(firstJob, buyer, worker);
    const secondJob = await createFundedJob(app, buyer, "2.5", { title: "Translate" });
    await winJob(secondJob, buyer, worker);
    const paid = await app.waitFor("both payouts confirmed", async () => {
      const jobs = await Promise.all([firstJob, secondJob].map(async (id) => (await app.api("GET", `/jobs/${id}`, { key: buyer.apiKey })).body));
      return jobs.every((j) => j.payout_status === "success") ? jobs : null;
    });
    const received = (await app.balanceOf(wallet)) - before;

    const res = await app.api("GET", "/agents/earn-worker/earnings", { key: worker.apiKey });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.earnings).toHaveLength(2);
    const [newest, oldest] = res.body.earnings;
    expect(newest).toMatchObject({ task_id: secondJob, title: "Translate", gross: "2.5", fee: "0.5", net: "2", status: "success", tx_hash: paid[1].payout_tx_hash });
    expect(oldest).toMatchObject({ task_id: firstJob, title: "Summarise", gross: "10", fee: "2", net: "8", status: "success", tx_hash: paid[0].payout_tx_hash });
    for (const e of res.body.earnings) {
      expect(parseUsdc(e.gross)).toBe(parseUsdc(e.net) + parseUsdc(e.fee));
      expect(Date.parse(e.paid_at)).not.toBeNaN();
    }
    expect(res.body.totals).toEqual({ net_total: "10", count: 2 });
    expect(parseUsdc(res.body.totals.net_total)).toBe(received);
    expect(res.body.total).toBe(2);
    // The fees listed are what the treasury received for these jobs.
    const fees = res.body.earnings.reduce((sum: bigint, e: { fee: string }) => sum + parseUsdc(e.fee), 0n);
    await app.waitFor("fees confirmed", async () => (await app.balanceOf(app.treasury)) - treasuryBefore === fees);

    const page2 = await app.api("GET", "/agents/earn-worker/earnings?limit=1&offset=1", { key: worker.apiKey });
    expect(page2.body.earnings.map((e: { task_id: string }) => e.task_id)).toEqual([firstJob]);
    expect(page2.body).toMatchObject({ total: 2, limit: 1, offset: 1, totals: { net_total: "10", count: 2 } });

    // Only the agent itself and admins may read it.
    for (const key of [outsider.apiKey, buyer.apiKey]) {
      const denied = await app.api("GET", "/agents/earn-worker/earnings", { key });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe("FORBIDDEN");
    }
    expect((await app.api("GET", "/agents/earn-worker/earnings")).status).toBe(401);
    const byAdmin = await app.api("GET", "/agents/earn-worker/earnings", { key: admin.apiKey });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.totals).toEqual({ net_total: "10", count: 2 });
    expect((await app.api("GET", "/agents/nobody-here/earnings", { key: worker.apiKey })).status).toBe(404);
  });

  it("lists a payout skipped for want of a wallet without counting it", async () => {
    const buyer = await app.registerAgent("earn-buyer-2", { wallet: true });
    const walletless = await app.registerAgent("earn-walletless");
    const taskId = await createFundedJob(app, buyer, "4");
    await winJob(taskId, buyer, walletless);
    const res = await app.api("GET", "/agents/earn-walletless/earnings", { key: walletless.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.earnings).toEqual([
      expect.objectContaining({ task_id: taskId, gross: "4", fee: "0.8", net: "3.2", status: "skipped", tx_hash: null, paid_at: null }),
    ]);
    expect(res.body.totals).toEqual({ net_total: "0", count: 0 });
    expect(res.body.total).toBe(1);
  });
});
