import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { InngestTestEngine } from "@inngest/test";
import { encodeAbiParameters, keccak256, numberToHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob, inAnHour } from "./support/jobs";
import { startRpcProxy } from "./support/rpc-proxy";

// Books against chain, to the base unit, on a real chain and a real database: a clean market
// reconciles with every job in its money state; every kind of difference, injected for real
// (USDC moved on chain behind the app's back, rows tampered with), is listed; the scheduled
// check records its runs and alerts admin agents' webhooks; `npm run reconcile` exits non-zero.

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { event: string; task_id: string | null; data: Record<string, unknown> };
}

let app: TestApp;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];

let admin: RegisteredAgent;
let buyer: RegisteredAgent & { privateKey?: Hex };
let worker: RegisteredAgent;
const workerWallet = privateKeyToAccount(generatePrivateKey()).address;
const jobs = {} as Record<"funded" | "claimed" | "paid" | "refunded" | "inFlight", string>;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ path: req.url ?? "", headers: req.headers, body, json: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({
    adminAgentIds: ["recon-admin"],
    // No grace for unclaimed money in (the grace itself is tested on the service), and small log
    // ranges so that every scan takes several requests.
    extraEnv: { RECONCILIATION_DEPOSIT_GRACE_SECONDS: "0", RECONCILIATION_LOG_CHUNK_BLOCKS: "40" },
  });
  admin = await app.registerAgent("recon-admin");
  buyer = await app.registerAgent("recon-buyer", { wallet: true });
  worker = await app.registerAgent("recon-worker", { wallet: workerWallet });
});

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

type Report = {
  clean: boolean;
  drift_count: number;
  from_block: number;
  to_block: number;
  log_requests: number;
  totals: Record<string, string>;
  books: Record<string, unknown>;
  job_states: { stuck: number; in_flight: number; escrowed: number; refunded: number; paid: number; unfunded: number };
  differences: Array<{ kind: string; detail: string; task_id: string | null; transfer_id: string | null; tx_hash: string | null; amount: string | null; recorded_amount: string | null; from: string | null; to: string | null }>;
  other_incoming: Array<{ kind: string; amount: string; from: string }>;
  jobs: { total: number; items: Array<{ task_id: string; money_state: string; reasons: string[]; deposit: string; deposit_on_chain: string | null; payouts: string; fees: string; refunds: string; held: string; in_flight: string }> };
};

async function reconcile(query = "limit=200"): Promise<Report> {
  const res = await app.api("GET", `/admin/reconciliation?${query}`, { key: admin.apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Report;
}

const jobIn = (report: Report, taskId: string) => {
  const job = report.jobs.items.find((j) => j.task_id === taskId);
  expect(job, `job ${taskId} in the report`).toBeDefined();
  return job!;
};

const ofKind = (report: Report, kind: string) => report.differences.filter((d) => d.kind === kind);

async function passFirstSubmission(taskId: string, content = "the summary") {
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content } });
  expect(sub.status, JSON.stringify(sub.body)).toBe(202);
  const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "covers it" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
}

const transfersFinal = (taskId: string) =>
  app.waitFor(`transfers of ${taskId} final`, async () => {
    const rows = await app.db.transfer.findMany({ where: { jobId: taskId } });
    return rows.length > 0 && rows.every((t) => t.status === "success") ? rows : null;
  }, 30_000);

/** `npm run reconcile` as an operator runs it, against this file's database and chain. */
function runReconcileCli(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = path.join(import.meta.dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts", "reconcile.ts")], { cwd: root, env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

function verifySignature(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${r.headers["webhook-id"]}.${r.headers["webhook-timestamp"]}.${r.body}`).digest("base64");
  return (r.headers["webhook-signature"] as string).split(" ").includes(`v1,${expected}`);
}

describe("a clean market", () => {
  it("reconciles with zero drift, every job in its money state, and the wallet's equation exact", async () => {
    // Money the platform put in itself: a mint to the operations wallet is a top-up, not a deposit.
    await app.mintUsdc(app.opsAddress, "50");

    jobs.funded = await createFundedJob(app, buyer, "10");
    jobs.claimed = await createFundedJob(app, buyer, "10");
    expect((await app.api("POST", `/jobs/${jobs.claimed}/claim`, { key: worker.apiKey })).status).toBe(200);

    // Paid: overpaid by 2, the winner paid (8 + fee 2), the excess refunded.
    jobs.paid = await createFundedJob(app, buyer, "10", {}, "12");
    expect((await app.api("POST", `/jobs/${jobs.paid}/claim`, { key: worker.apiKey })).status).toBe(200);
    await passFirstSubmission(jobs.paid);
    expect((await app.api("POST", `/jobs/${jobs.paid}/refund-excess`, { key: buyer.apiKey })).status).toBe(200);
    await transfersFinal(jobs.paid);

    // Refunded: cancelled, refund confirmed.
    jobs.refunded = await createFundedJob(app, buyer, "5");
    expect((await app.api("POST", `/jobs/${jobs.refunded}/cancel`, { key: buyer.apiKey })).status).toBe(200);
    expect((await app.api("POST", `/jobs/${jobs.refunded}/refund`, { key: buyer.apiKey })).status).toBe(200);
    await app.waitFor("job refunded", async () => (await app.api("GET", `/jobs/${jobs.refunded}`)).body.status === "refunded", 30_000);

    // In flight: the payout is signed and broadcast, but no block comes.
    jobs.inFlight = await createFundedJob(app, buyer, "10");
    expect((await app.api("POST", `/jobs/${jobs.inFlight}/claim`, { key: worker.apiKey })).status).toBe(200);
    await app.manualBlocks({ automine: false });
    await passFirstSubmission(jobs.inFlight);
    await app.waitFor("payout broadcast", async () => (await app.db.transfer.count({ where: { jobId: jobs.inFlight, status: "sent" } })) === 2);

    const during = await reconcile();
    expect(during.differences).toEqual([]);
    expect(during.clean).toBe(true);
    expect(jobIn(during, jobs.inFlight)).toMatchObject({ money_state: "in_flight", in_flight: "10", held: "10" });

    await app.autoBlocks();
    await transfersFinal(jobs.inFlight);

    const report = await reconcile();
    expect(report.differences).toEqual([]);
    expect(report).toMatchObject({ clean: true, drift_count: 0, from_block: 0 });
    expect(report.log_requests).toBeGreaterThan(2); // 40-block ranges, two filtered requests each
    expect(jobIn(report, jobs.funded)).toMatchObject({ money_state: "escrowed", deposit: "10", deposit_on_chain: "10", held: "10", reasons: [] });
    expect(jobIn(report, jobs.claimed)).toMatchObject({ money_state: "escrowed", held: "10" });
    expect(jobIn(report, jobs.paid)).toMatchObject({ money_state: "paid", deposit_on_chain: "12", payouts: "8", fees: "2", refunds: "2", held: "0" });
    expect(jobIn(report, jobs.refunded)).toMatchObject({ money_state: "refunded", refunds: "5", held: "0" });
    expect(jobIn(report, jobs.inFlight)).toMatchObject({ money_state: "paid", payouts: "8", fees: "2", held: "0", in_flight: "0" });
    expect(report.job_states).toEqual({ stuck: 0, in_flight: 0, escrowed: 2, refunded: 1, paid: 2, unfunded: 0 });

    // The equation, to the base unit, against the balance read from the chain by the test.
    const balance = await app.balanceOf(app.opsAddress);
    expect(report.totals).toEqual({
      starting_balance: "0",
      deposits: "47",
      top_ups: "50",
      awaiting_funding: "0",
      unattributed_incoming: "0",
      payouts: "16",
      fees: "4",
      refunds: "5",
      excess_refunds: "2",
      unrecorded_outgoing: "0",
      expected_balance: "70",
      balance: "70",
      balance_difference: "0",
    });
    expect(balance).toBe(parseUsdc("70"));
    expect(report.books).toMatchObject({ deposits: "47", payouts: "16", fees: "4", refunds: "5", excess_refunds: "2", in_flight: { count: 0, amount: "0" } });
    expect(report.other_incoming).toEqual([expect.objectContaining({ kind: "top_up", amount: "50", from: "0x0000000000000000000000000000000000000000" })]);

    // The list filters by state and pages.
    const stuck = await reconcile("state=stuck");
    expect(stuck.jobs).toEqual({ total: 0, items: [] });
    const escrowed = await reconcile("state=escrowed&limit=1&offset=1");
    expect(escrowed.jobs.total).toBe(2);
    expect(escrowed.jobs.items).toHaveLength(1);
  });

  it("counts a mined replaced version as the same transfer, and a nonce filler as no USDC moved", async () => {
    // The payout's bytes were replaced (fee bump) after the first version was mined: the row's
    // tx_hash names the replacement and the mined hash sits in replaced_tx_hashes.
    const payout = await app.db.transfer.findFirstOrThrow({ where: { jobId: jobs.paid, kind: "payout" } });
    const replacement = `0x${randomBytes(32).toString("hex")}`;
    await app.db.transfer.update({ where: { id: payout.id }, data: { txHash: replacement, replacedTxHashes: [payout.txHash!] } });

    // A zero-value self transaction that took a nonce (what repair-nonce-gaps sends).
    const { getChain } = await import("~/server/chain/chain");
    const chain = getChain();
    const nonce = await chain.getPendingNonce();
    const filler = await chain.signNonceFiller({ nonce });
    await app.db.nonceFiller.create({ data: { nonce, signedTx: filler.signedTx, txHash: filler.txHash } });
    await chain.broadcastSignedTx(filler.signedTx);
    await app.waitFor("filler mined", async () => (await chain.getMinedNonce()) > nonce);

    const report = await reconcile();
    expect(report.differences).toEqual([]);
    expect(jobIn(report, jobs.paid)).toMatchObject({ money_state: "paid", payouts: "8" });
    expect(report.books).toMatchObject({ nonce_fillers: 1 });
    expect(report.totals.payouts).toBe("16");
    await app.db.transfer.update({ where: { id: payout.id }, data: { txHash: payout.txHash, replacedTxHashes: [] } });
  });

  it("reads the chain in smaller ranges when the node refuses a range as too large, with the same result", async () => {
    const { createChainClient } = await import("~/server/chain/chain-client");
    const { reconcileBooks, reconciliationSettings } = await import("~/server/services/reconciliation/reconcile-books");
    const { toTotalsDto } = await import("~/server/api/dto-reconciliation");
    const { getEnv } = await import("~/env");
    const env = getEnv();
    const proxy = await startRpcProxy(app.rpcUrl, { maxLogBlockRange: 10 });
    try {
      const chain = createChainClient({ rpcUrl: proxy.url, chainId: 31337, usdcAddress: env.USDC_ADDRESS as Address, opsPrivateKey: env.OPS_PRIVATE_KEY as Hex });
      const settings = reconciliationSettings(env);
      const split = await reconcileBooks({ db: app.db, chain, settings });
      const direct = await reconcile();
      expect(split.differences).toEqual([]);
      expect(Number(split.toBlock)).toBeGreaterThanOrEqual(direct.to_block - 50);
      expect({ ...toTotalsDto(split) }).toMatchObject({ deposits: direct.totals.deposits, payouts: direct.totals.payouts, refunds: direct.totals.refunds, top_ups: direct.totals.top_ups });
      // 40-block ranges refused, asked again as 20, then 10 blocks.
      expect(split.logRequests).toBeGreaterThan(2 * Math.ceil((Number(split.toBlock) + 1) / 10));
      expect(proxy.methods.filter((m) => m === "eth_getLogs").length).toBe(split.logRequests);
    } finally {
      await proxy.close();
    }
  });

  it("is for admins only, and `npm run reconcile` exits 0 with a readable report", async () => {
    expect((await app.api("GET", "/admin/reconciliation", { key: buyer.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/admin/reconciliation")).status).toBe(401);
    expect((await app.api("GET", "/admin/reconciliation/runs", { key: buyer.apiKey })).status).toBe(403);
    expect((await app.api("POST", "/admin/reconciliation/runs", { key: buyer.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/admin/reconciliation?state=lost", { key: admin.apiKey })).status).toBe(400);

    const cli = await runReconcileCli();
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`Reconciliation of the operations wallet ${app.opsAddress}`);
    expect(cli.stdout).toMatch(/= expected balance\s+70 USDC/);
    expect(cli.stdout).toMatch(/balance on chain at block \d+\s+70 USDC\s+matches/);
    expect(cli.stdout).toContain("escrowed 2 · refunded 1 · paid 2");
    expect(cli.stdout).toContain("Result: CLEAN");
  });
});

describe("differences", () => {
  it("lists every kind of difference, injected on chain and in the books", async () => {
    const { getChain } = await import("~/server/chain/chain");
    const { reconcileBooks, reconciliationSettings } = await import("~/server/services/reconciliation/reconcile-books");
    const { getEnv } = await import("~/env");

    // A stray deposit: USDC sent to the operations wallet that no POST /fund claims. Within the
    // grace it waits for its job; past it, it is drift.
    const strayHash = await app.transferUsdc(buyer.privateKey!, app.opsAddress, "3");
    await app.mine(12);
    const withGrace = await reconcileBooks({ db: app.db, chain: getChain(), settings: { ...reconciliationSettings(getEnv()), depositGraceSeconds: 3600 } });
    expect(withGrace.differences).toEqual([]);
    expect(withGrace.totals.awaitingFunding).toBe(parseUsdc("3"));
    let report = await reconcile();
    expect(ofKind(report, "unattributed_deposit")).toEqual([expect.objectContaining({ tx_hash: strayHash, amount: "3", from: buyer.wallet })]);
    expect(report.totals).toMatchObject({ unattributed_incoming: "3", balance: "73", balance_difference: "0" });

    // USDC moved out of the operations wallet behind the app's back.
    const stranger = privateKeyToAccount(generatePrivateKey()).address;
    const outHash = await app.transferUsdc(app.opsKey, stranger, "2");
    report = await reconcile();
    expect(ofKind(report, "unrecorded_outgoing")).toEqual([expect.objectContaining({ tx_hash: outHash, amount: "2", to: stranger })]);
    expect(report.totals).toMatchObject({ unrecorded_outgoing: "2", balance: "71", balance_difference: "0" });

    // A transfer row tampered to another amount, another to another recipient.
    const paidPayout = await app.db.transfer.findFirstOrThrow({ where: { jobId: jobs.paid, kind: "payout" } });
    await app.db.transfer.update({ where: { id: paidPayout.id }, data: { amount: parseUsdc("9") } });
    const otherPayout = await app.db.transfer.findFirstOrThrow({ where: { jobId: jobs.inFlight, kind: "payout" } });
    await app.db.transfer.update({ where: { id: otherPayout.id }, data: { toAddress: stranger } });
    report = await reconcile();
    const mismatches = ofKind(report, "transfer_mismatch");
    expect(mismatches).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ transfer_id: paidPayout.id, task_id: jobs.paid, amount: "8", recorded_amount: "9" }),
        expect.objectContaining({ transfer_id: otherPayout.id, task_id: jobs.inFlight, amount: "8", recorded_amount: "8", to: workerWallet }),
      ]),
    );
    expect(jobIn(report, jobs.paid)).toMatchObject({ money_state: "stuck", reasons: [expect.stringContaining("recorded as 9 USDC")] });

    // A job recorded as funded by a transaction that does not exist.
    const open = await app.api("POST", "/jobs", { key: buyer.apiKey, body: { title: "Phantom", description: "never paid", rubric: "n/a", price: "7", expiry: inAnHour() } });
    const phantomHash = `0x${randomBytes(32).toString("hex")}`;
    await app.db.job.update({ where: { id: open.body.task_id }, data: { status: "funded", depositTxHash: phantomHash, depositAmount: parseUsdc("7"), depositFrom: buyer.wallet, fundedAt: new Date() } });
    // A deposit recorded with another amount than the chain moved.
    await app.db.job.update({ where: { id: jobs.funded }, data: { depositAmount: parseUsdc("11") } });
    report = await reconcile();
    expect(ofKind(report, "deposit_not_on_chain")).toEqual([expect.objectContaining({ task_id: open.body.task_id, tx_hash: phantomHash, recorded_amount: "7" })]);
    expect(ofKind(report, "deposit_not_on_chain")[0]!.detail).toContain("which the chain does not know");
    expect(ofKind(report, "deposit_amount_mismatch")).toEqual([expect.objectContaining({ task_id: jobs.funded, amount: "10", recorded_amount: "11" })]);
    expect(jobIn(report, open.body.task_id)).toMatchObject({ money_state: "stuck", deposit_on_chain: null });
    expect(report.books).toMatchObject({ deposits: "55" });
    expect(report.totals).toMatchObject({ deposits: "47", balance_difference: "0" });

    // A transfer recorded success whose hash moved nothing (the real transaction is then money
    // out with no record), and one recorded failed although it went out.
    const refund = await app.db.transfer.findFirstOrThrow({ where: { jobId: jobs.refunded, kind: "refund" } });
    await app.db.transfer.update({ where: { id: refund.id }, data: { txHash: `0x${randomBytes(32).toString("hex")}` } });
    const fee = await app.db.transfer.findFirstOrThrow({ where: { jobId: jobs.paid, kind: "fee" } });
    await app.db.transfer.update({ where: { id: fee.id }, data: { status: "failed", error: "transaction reverted on chain" } });
    report = await reconcile();
    expect(ofKind(report, "transfer_not_on_chain")).toEqual([expect.objectContaining({ transfer_id: refund.id, task_id: jobs.refunded, recorded_amount: "5" })]);
    expect(ofKind(report, "unrecorded_outgoing")).toEqual(expect.arrayContaining([expect.objectContaining({ tx_hash: refund.txHash, amount: "5" })]));
    expect(ofKind(report, "transfer_on_chain_but_not_sent")).toEqual([expect.objectContaining({ transfer_id: fee.id, amount: "2" })]);
    expect(report.totals.balance_difference).toBe("0");

    // The wallet's balance changed with no Transfer log at all (storage written directly): the
    // equation no longer holds.
    const slot = keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [app.opsAddress as Address, 1n]));
    await app.testClient.setStorageAt({ address: app.usdcAddress as Address, index: slot, value: numberToHex((await app.balanceOf(app.opsAddress)) + 1n, { size: 32 }) });
    report = await reconcile();
    expect(ofKind(report, "balance_mismatch")).toEqual([expect.objectContaining({ amount: "71.000001", recorded_amount: "71" })]);
    expect(report.totals.balance_difference).toBe("0.000001");

    expect(report.clean).toBe(false);
    expect(new Set(report.differences.map((d) => d.kind))).toEqual(
      new Set(["unattributed_deposit", "unrecorded_outgoing", "transfer_mismatch", "deposit_not_on_chain", "deposit_amount_mismatch", "transfer_not_on_chain", "transfer_on_chain_but_not_sent", "balance_mismatch"]),
    );
    expect(report.drift_count).toBe(report.differences.length);
    expect(report.job_states.stuck).toBeGreaterThanOrEqual(5);

    const cli = await runReconcileCli();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`Differences (${report.drift_count})`);
    expect(cli.stdout).toContain("unrecorded_outgoing");
    expect(cli.stdout).toContain("Result: DRIFT");
  });
});

describe("the scheduled check", () => {
  it("records each run and alerts admin agents' webhooks once per new drift", async () => {
    const adminHook = (await app.api("POST", `/agents/${admin.agentId}/webhooks`, { key: admin.apiKey, body: { url: `${receiverUrl}/admin` } })).body as { webhook_id: string; secret: string; events: string[] };
    expect(adminHook.events).toContain("reconciliation.drift");
    const buyerHook = (await app.api("POST", `/agents/${buyer.agentId}/webhooks`, { key: buyer.apiKey, body: { url: `${receiverUrl}/buyer`, events: ["reconciliation.drift", "job.funded"] } })).body as { webhook_id: string };

    // Through the pg-boss runner, as the cron enqueues it.
    const { enqueue } = await import("~/server/jobs/client");
    await enqueue("reconcile", {});
    const alert = await app.waitFor("drift alert at the admin's receiver", async () => received.find((r) => r.path === "/admin" && r.json.event === "reconciliation.drift"), 30_000);
    expect(verifySignature(adminHook.secret, alert)).toBe(true);

    const runs = await app.api("GET", "/admin/reconciliation/runs?limit=1", { key: admin.apiKey });
    expect(runs.status).toBe(200);
    const [run] = runs.body.runs;
    expect(run).toMatchObject({ trigger: "schedule", outcome: "drift", error: null, from_block: 0 });
    expect(run.alerted_at).not.toBeNull();
    expect(run.drift_count).toBe(run.differences.length);
    expect(run.totals).toMatchObject({ balance_difference: "0.000001" });
    expect(alert.json).toMatchObject({ event: "reconciliation.drift", task_id: null, data: { run_id: run.run_id, drift_count: run.drift_count, console_path: "/admin/reconciliation" } });
    expect((alert.json.data.differences as unknown[]).length).toBe(Math.min(20, run.drift_count));

    // Only admin agents hear about it, whatever a webhook subscribes to.
    expect(await app.db.webhookDelivery.count({ where: { webhookId: buyerHook.webhook_id, event: "reconciliation.drift" } })).toBe(0);
    const deliveries = await app.waitFor("delivery recorded", async () => {
      const res = await app.api("GET", `/agents/${admin.agentId}/webhooks/${adminHook.webhook_id}/deliveries`, { key: admin.apiKey });
      return res.body.deliveries?.[0]?.status === "delivered" ? res.body.deliveries : null;
    });
    expect(deliveries).toEqual([expect.objectContaining({ event: "reconciliation.drift", task_id: null, status: "delivered", attempts: 1 })]);

    // The same drift again: recorded, no second alert.
    const again = await app.api("POST", "/admin/reconciliation/runs", { key: admin.apiKey });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ trigger: "admin", outcome: "drift", alerted_at: null, drift_count: run.drift_count });
    // New drift: alerted again.
    await app.transferUsdc(app.opsKey, privateKeyToAccount(generatePrivateKey()).address, "1");
    const changed = await app.api("POST", "/admin/reconciliation/runs", { key: admin.apiKey });
    expect(changed.body).toMatchObject({ outcome: "drift", drift_count: run.drift_count + 1 });
    expect(changed.body.alerted_at).not.toBeNull();
    await app.waitFor("second alert", async () => received.filter((r) => r.path === "/admin" && r.json.event === "reconciliation.drift").length === 2);
    expect((await app.api("GET", "/admin/reconciliation/runs", { key: admin.apiKey })).body.total).toBe(3);
  });

  it("records a check that cannot reach the chain as an error run", async () => {
    const { createChainClient } = await import("~/server/chain/chain-client");
    const { recordReconciliationRun } = await import("~/server/services/reconciliation/record-reconciliation-run");
    const { getEnv } = await import("~/env");
    const env = getEnv();
    const deadChain = createChainClient({ rpcUrl: "http://127.0.0.1:9", chainId: 31337, usdcAddress: env.USDC_ADDRESS as Address, opsPrivateKey: env.OPS_PRIVATE_KEY as Hex });
    const { run } = await recordReconciliationRun({ db: app.db, chain: deadChain, env, trigger: "schedule" });
    expect(run).toMatchObject({ outcome: "error", driftCount: 0, alertedAt: null });
    expect(run.error).toContain("Could not read the operations wallet's USDC history");
    const latest = (await app.api("GET", "/admin/reconciliation/runs?limit=1", { key: admin.apiKey })).body.runs[0];
    expect(latest).toMatchObject({ outcome: "error", totals: null, job_states: null });
  });

  it("runs as an Inngest function too", async () => {
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { reconcileFunction } = await import("~/server/jobs/functions/reconcile");
    const before = await app.db.reconciliationRun.count();
    const { result, ctx } = await new InngestTestEngine({ function: toInngestFunction(reconcileFunction as never) }).execute();
    expect(result).toMatchObject({ outcome: "drift", alerted: false });
    const stepNames = (ctx.step.run as unknown as { mock: { calls: unknown[][] } }).mock.calls.map((c) => c[0]);
    expect(stepNames).toEqual(["reconcile"]);
    expect(await app.db.reconciliationRun.count()).toBe(before + 1);
  });
});

describe("stuck jobs", () => {
  it("lists a job whose money is not moving with its reason, and it is not drift", async () => {
    const before = await reconcile();
    // A winner without a wallet: the payout is recorded skipped.
    const walletless = await app.registerAgent("recon-walletless");
    const skippedJob = await createFundedJob(app, buyer, "4");
    expect((await app.api("POST", `/jobs/${skippedJob}/claim`, { key: walletless.apiKey })).status).toBe(200);
    const sub = await app.api("POST", `/jobs/${skippedJob}/submit`, { key: walletless.apiKey, body: { content: "done" } });
    expect((await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "ok" } })).status).toBe(200);
    await app.waitFor("payout skipped", async () => (await app.db.transfer.count({ where: { jobId: skippedJob, kind: "payout", status: "skipped" } })) === 1);
    await app.waitFor("fee final", async () => (await app.db.transfer.count({ where: { jobId: skippedJob, kind: "fee", status: "success" } })) === 1, 30_000);
    // A job that expired an hour ago still holding its deposit, with no refund asked for.
    const expiredJob = await createFundedJob(app, buyer, "6");
    await app.db.job.update({ where: { id: expiredJob }, data: { expiry: new Date(Date.now() - 3_600_000) } });

    let report = await reconcile();
    expect(jobIn(report, skippedJob)).toMatchObject({ money_state: "stuck", held: "3.2", reasons: [expect.stringContaining("payout 3.2 USDC was skipped (worker has no wallet address)")] });
    expect(jobIn(report, expiredJob)).toMatchObject({ money_state: "stuck", held: "6", reasons: [expect.stringMatching(/^6 USDC still held \d+ s after the job was expired, and no refund is recorded$/)] });
    expect(report.job_states.stuck).toBe(before.job_states.stuck + 2);
    expect(report.drift_count).toBe(before.drift_count);

    // The refund goes out: the job's money is refunded, and it is no longer stuck.
    expect((await app.api("POST", `/jobs/${expiredJob}/refund`, { key: buyer.apiKey })).status).toBe(200);
    await transfersFinal(expiredJob);
    report = await reconcile();
    expect(jobIn(report, expiredJob)).toMatchObject({ money_state: "refunded", held: "0", reasons: [] });
    expect(report.drift_count).toBe(before.drift_count);
  });
});
