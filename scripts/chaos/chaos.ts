// The chaos run (`npm run chaos`, test/chaos.test.ts): drives jobs through every money path while
// the app is SIGKILLed at random moments and restarted, and the chain's RPC goes down, slow and
// flaky; then checks that every dollar ended where it should, exactly once.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { getEnv } from "~/env";
import { createChainClient } from "~/server/chain/chain-client";
import { formatUsdc, parseUsdc } from "~/server/money";
import { reconcileBooks, reconciliationSettings } from "~/server/services/reconciliation/reconcile-books";
import { startTestApp, type TestApp } from "../../test/support/app";
import type { RpcFault } from "../../test/support/chain-fault-proxy";

export const MONEY_PATHS = ["pass", "fail_then_pass", "two_winners", "cancel", "expiry", "dispute_uphold", "dispute_refund_buyer", "dispute_overturn"] as const;
export type MoneyPath = (typeof MONEY_PATHS)[number];

export interface ChaosOptions {
  jobs: number;
  /** Jobs driven at once (each slot has its own buyer wallet). */
  concurrency?: number;
  /** SIGKILLs of the app, spread over the run (the run stops killing once the jobs are done). */
  kills?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  jobs: number;
  paths: Record<MoneyPath, number>;
  kills: number;
  chainFaults: Record<Exclude<RpcFault, "none">, number>;
  rpc: { requests: number; dropped: number; failed: number; delayed: number };
  /** Webhook deliveries at the end: delivered, or failed for good with their reason. */
  webhooks: { deliveries: number; delivered: number; failed: number; receiverOutages: number; received: number };
  reconciliation: { drift: number; jobStates: Record<string, number> };
  durationSeconds: number;
  settleSeconds: number;
  money: { deposits: string; payouts: string; fees: string; refunds: string };
  /** Everything that did not end as expected; empty means the run is clean. */
  problems: string[];
}

const FEE_BPS = 2000n;
const PRICES = ["2", "3", "5", "7.5", "10"];

/** A small seeded generator (mulberry32): the same seed drives the same run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What each share of a price pays: the fee rounds down, the last share takes the remainder. */
function shares(price: bigint, winners: number): { net: bigint; fee: bigint }[] {
  const base = price / BigInt(winners);
  return Array.from({ length: winners }, (_, i) => {
    const share = i === winners - 1 ? price - base * BigInt(winners - 1) : base;
    const fee = (share * FEE_BPS) / 10_000n;
    return { net: share - fee, fee };
  });
}

interface Expected {
  buyerDeposits: Map<Address, bigint>;
  workerNet: Map<Address, bigint>;
  buyerRefund: Map<Address, bigint>;
  fees: bigint;
  deposits: bigint;
  jobs: Map<string, "resolved" | "refunded">;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed ?? 1);
  const concurrency = options.concurrency ?? 4;
  const started = Date.now();
  const app = await startTestApp({
    appProcess: true,
    chainFaults: true,
    adminAgentIds: ["chaos-admin"],
    confirmations: 2,
    // Retries on a compressed clock: a transfer's 1 min → 1 s, a webhook's 5 min → 0.3 s.
    extraEnv: { TRANSFER_RETRY_BASE_SECONDS: "1", WEBHOOK_RETRY_UNIT_MS: "1", LOG_LEVEL: process.env.CHAOS_APP_LOG_LEVEL ?? "error" },
  });
  const problems: string[] = [];
  const expected: Expected = { buyerDeposits: new Map(), workerNet: new Map(), buyerRefund: new Map(), fees: 0n, deposits: 0n, jobs: new Map() };
  const paths = Object.fromEntries(MONEY_PATHS.map((p) => [p, 0])) as Record<MoneyPath, number>;
  const faultsSeen = { down: 0, slow: 0, flaky: 0 };
  let kills = 0;
  // The buyers' webhook receiver, which goes away now and then and comes back on the same port.
  const receiver = await startWebhookReceiver();
  try {
    const call = apiWithRetries(app);
    const admin = await registerWithRetries(app, "chaos-admin");
    // The platform's own float: a refund_buyer dispute after a payout is paid from it, as an
    // operator's would be (without it that refund would rightly wait for funds).
    await app.mintUsdc(app.opsAddress, "1000");
    const opsStart = await app.balanceOf(app.opsAddress);
    const treasuryStart = await app.balanceOf(app.treasury as Address);
    const buyers = [];
    for (let i = 0; i < concurrency; i++) buyers.push(await registerWithRetries(app, `chaos-buyer-${i}`, true));
    for (const b of buyers) {
      const hook = await call("POST", `/agents/${b.agentId}/webhooks`, { key: b.apiKey, body: { url: `${receiver.url}/${b.agentId}` } });
      if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${JSON.stringify(hook.body)}`);
    }
    // Every buyer holds what all its deposits need before the run (one minter, no nonce races).
    for (const b of buyers) await app.mintUsdc(b.wallet!, String(10 * Math.ceil(options.jobs / concurrency + 1)));
    const buyerStart = new Map<Address, bigint>();
    for (const b of buyers) buyerStart.set(b.wallet!, await app.balanceOf(b.wallet!));

    let next = 0;
    let done = false;
    const drivers = buyers.map(async (buyer, slot) => {
      while (next < options.jobs) {
        const index = next++;
        // Every path in turn, so even a short run takes each one.
        const path = MONEY_PATHS[index % MONEY_PATHS.length]!;
        const price = parseUsdc(PRICES[Math.floor(random() * PRICES.length)]!);
        paths[path]++;
        try {
          await driveJob({ app, call, admin, buyer, path, price, expected, tag: `${slot}-${index}` });
        } catch (err) {
          problems.push(`driving a ${path} job failed: ${(err as Error).message}`);
        }
      }
    });

    // The app dies at random moments and comes back; the chain's RPC misbehaves now and then.
    const killer = (async () => {
      const planned = options.kills ?? Math.max(1, Math.round(options.jobs / 10));
      while (!done && kills < planned) {
        await sleep(2_000 + random() * 5_000);
        if (done) break;
        await app.crash();
        kills++;
        log(`kill ${kills}/${planned}`);
        await sleep(200 + random() * 1_500);
        await app.restart();
      }
    })();
    const receiverChaos = (async () => {
      while (!done) {
        await sleep(3_000 + random() * 5_000);
        if (done) break;
        await receiver.down();
        await sleep(1_000 + random() * 5_000);
        await receiver.up();
      }
    })();
    const chainChaos = (async () => {
      while (!done) {
        await sleep(1_000 + random() * 3_000);
        if (done) break;
        const fault = (["down", "slow", "flaky"] as const)[Math.floor(random() * 3)]!;
        faultsSeen[fault]++;
        app.chainFaults!.setFault(fault);
        await sleep(1_000 + random() * 3_000);
        app.chainFaults!.setFault("none");
      }
    })();

    await Promise.all(drivers);
    done = true;
    await Promise.all([killer, chainChaos, receiverChaos]);
    app.chainFaults!.setFault("none");
    await receiver.up();
    if (!app.appRunning) await app.restart();
    log(`jobs driven in ${Math.round((Date.now() - started) / 1000)} s; waiting for the money to settle`);

    const settleStarted = Date.now();
    await settle(app, expected, problems);
    const webhooks = await settleWebhooks(app, receiver, problems);
    const settleSeconds = Math.round((Date.now() - settleStarted) / 1000);
    await checkMoney({ app, expected, problems, opsStart, treasuryStart, buyerStart });
    // The books against the chain, as an admin would run them: no drift, no job in an unknown state.
    const env = getEnv();
    const chain = createChainClient({ rpcUrl: app.rpcUrl, chainId: env.CHAIN_ID, usdcAddress: app.usdcAddress, opsPrivateKey: app.opsKey });
    const books = await reconcileBooks({ db: app.db, chain, settings: reconciliationSettings(env) });
    for (const d of books.differences) problems.push(`reconciliation: ${d.kind}: ${d.detail}`);
    for (const j of books.jobs.filter((job) => job.state === "stuck")) problems.push(`reconciliation: job ${j.jobId} is stuck: ${j.reasons.join("; ")}`);

    const totals = await app.db.transfer.groupBy({ by: ["kind"], where: { status: "success" }, _sum: { amount: true } });
    const sum = (kinds: string[]) => totals.filter((t) => kinds.includes(t.kind)).reduce((a, t) => a + (t._sum.amount ?? 0n), 0n);
    return {
      jobs: options.jobs,
      paths,
      kills,
      chainFaults: faultsSeen,
      rpc: { ...app.chainFaults!.stats },
      durationSeconds: Math.round((Date.now() - started) / 1000),
      settleSeconds,
      webhooks,
      reconciliation: { drift: books.differences.length, jobStates: books.jobStates },
      money: { deposits: formatUsdc(expected.deposits), payouts: formatUsdc(sum(["payout"])), fees: formatUsdc(sum(["fee"])), refunds: formatUsdc(sum(["refund", "excess_refund"])) },
      problems,
    };
  } finally {
    await app.stop();
    await receiver.close();
  }
}

interface WebhookReceiver {
  url: string;
  /** Deliveries received (by webhook-id: a retry of one already received is the same delivery). */
  received: Set<string>;
  outages: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A receiver on a fixed port that can be taken down (connections refused) and brought back. */
async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Set<string>();
  let port = 0;
  let server: http.Server | undefined;
  let outages = 0;
  const listen = async () => {
    const next = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const id = req.headers["webhook-id"];
        if (typeof id === "string") received.add(id);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => next.listen(port, "127.0.0.1", resolve));
    const address = next.address();
    port = typeof address === "object" && address ? address.port : port;
    server = next;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get outages() {
      return outages;
    },
    async down() {
      if (!server) return;
      outages++;
      await stop();
    },
    async up() {
      if (!server) await listen();
    },
    close: stop,
  };
}

/** Every delivery ends delivered, or failed for good with its reason; none is left pending. */
async function settleWebhooks(app: TestApp, receiver: WebhookReceiver, problems: string[]) {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const pending = await app.db.webhookDelivery.count({ where: { status: "pending" } });
    if (pending === 0) break;
    if (Date.now() > deadline) {
      problems.push(`${pending} webhook deliveries still pending after 240 s`);
      break;
    }
    await sleep(1_000);
  }
  const rows = await app.db.webhookDelivery.findMany({ select: { id: true, status: true, lastError: true } });
  const delivered = rows.filter((r) => r.status === "delivered");
  const failed = rows.filter((r) => r.status === "failed");
  for (const d of delivered) if (!receiver.received.has(d.id)) problems.push(`webhook delivery ${d.id} is recorded delivered but never arrived`);
  for (const f of failed) if (!f.lastError) problems.push(`webhook delivery ${f.id} failed without a reason`);
  return { deliveries: rows.length, delivered: delivered.length, failed: failed.length, receiverOutages: receiver.outages, received: receiver.received.size };
}

type Api = ReturnType<typeof apiWithRetries>;
interface Agent {
  agentId: string;
  apiKey: string;
  wallet?: Address;
  privateKey?: Hex;
}

/**
 * Calls the API until it answers for real: through kills (connection refused), chain faults
 * (503), collisions and keys still in flight (409) and rate limits (429). Mutations carry an
 * Idempotency-Key so that a retry of a request the crash cut short cannot do it twice.
 */
function apiWithRetries(app: TestApp) {
  return async (method: string, path: string, opts: { key?: string; body?: unknown; idempotencyKey?: string } = {}) => {
    const deadline = Date.now() + 120_000;
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const res = await app.api(method, path, { key: opts.key, body: opts.body, headers: opts.idempotencyKey ? { "Idempotency-Key": opts.idempotencyKey } : {} });
        const code = res.body?.error?.code as string | undefined;
        const transient = res.status >= 500 || res.status === 429 || code === "IDEMPOTENCY_KEY_IN_USE" || code === "CONFLICT" || code === "DEPOSIT_UNCONFIRMED" || code === "DEPOSIT_NOT_FOUND";
        if (!transient) return res;
        last = `${res.status} ${code ?? ""}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(300);
    }
    throw new Error(`${method} ${path}: gave up (${last})`);
  };
}

async function registerWithRetries(app: TestApp, agentId: string, wallet = false): Promise<Agent> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await app.registerAgent(agentId, wallet ? { wallet: true } : {});
    } catch (err) {
      if (Date.now() > deadline) throw err;
      // Registered before a kill cut the answer short: a new id, the old agent stays unused.
      if (/AGENT_EXISTS/.test(String(err))) agentId = `${agentId}-${randomBytes(2).toString("hex")}`;
      await sleep(300);
    }
  }
}

function freshAddress(): Address {
  return privateKeyToAccount(`0x${randomBytes(32).toString("hex")}` as Hex).address;
}

async function driveJob(ctx: { app: TestApp; call: Api; admin: Agent; buyer: Agent; path: MoneyPath; price: bigint; expected: Expected; tag: string }) {
  const { app, call, admin, buyer, path, price, expected, tag } = ctx;
  const winners = path === "two_winners" ? 2 : 1;
  // Long enough to be funded through kills and chain faults, short enough to wait for.
  const expirySeconds = path === "expiry" ? 90 : 3600;
  const created = await call("POST", "/jobs", {
    key: buyer.apiKey,
    idempotencyKey: `create-${tag}`,
    body: { title: `Chaos ${path} ${tag}`, description: "d", rubric: "r", price: formatUsdc(price), expiry: Math.floor(Date.now() / 1000) + expirySeconds, max_winners: winners, max_submissions: 10 },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const taskId = created.body.task_id as string;

  // The deposit: a real USDC transfer from the buyer's proven wallet, then its confirmations.
  const txHash = await app.transferUsdc(buyer.privateKey!, app.opsAddress, formatUsdc(price));
  await app.mine(2);
  const funded = await call("POST", `/jobs/${taskId}/fund`, { key: buyer.apiKey, idempotencyKey: `fund-${tag}`, body: { tx_hash: txHash } });
  if (funded.status !== 200 && funded.body?.error?.code !== "DEPOSIT_ALREADY_USED") throw new Error(`fund: ${funded.status} ${JSON.stringify(funded.body)}`);
  expected.deposits += price;
  add(expected.buyerDeposits, buyer.wallet!, price);

  if (path === "cancel" || path === "expiry") {
    if (path === "cancel") {
      const cancelled = await call("POST", `/jobs/${taskId}/cancel`, { key: buyer.apiKey });
      if (cancelled.status !== 200 && cancelled.body?.error?.code !== "JOB_NOT_OPEN") throw new Error(`cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
    } else {
      const expiresAt = (created.body.expiry as number) * 1000;
      await sleep(Math.max(0, expiresAt - Date.now()) + 500);
    }
    const refund = await call("POST", `/jobs/${taskId}/refund`, { key: buyer.apiKey, idempotencyKey: `refund-${tag}` });
    if (refund.status !== 200 && refund.body?.error?.code !== "ALREADY_REFUNDED") throw new Error(`refund: ${refund.status} ${JSON.stringify(refund.body)}`);
    add(expected.buyerRefund, buyer.wallet!, price);
    expected.jobs.set(taskId, "refunded");
    return;
  }

  const workers: Array<Agent & { payTo: Address }> = [];
  for (let i = 0; i < winners; i++) {
    const payTo = freshAddress();
    const worker = await registerWithRetries(app, `chaos-w-${tag}-${i}`);
    const setWallet = await call("PATCH", `/agents/${worker.agentId}`, { key: worker.apiKey, body: { wallet_address: payTo } });
    if (setWallet.status !== 200) throw new Error(`wallet: ${setWallet.status}`);
    const claimed = await call("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey, idempotencyKey: `claim-${tag}-${i}` });
    if (claimed.status !== 200 && claimed.body?.error?.code !== "ALREADY_CLAIMED") throw new Error(`claim: ${claimed.status} ${JSON.stringify(claimed.body)}`);
    workers.push({ ...worker, payTo });
  }

  const submitAndJudge = async (worker: Agent, n: number, passed: boolean) => {
    const sub = await call("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, idempotencyKey: `submit-${tag}-${worker.agentId}-${n}`, body: { content: `work ${n}` } });
    if (sub.status !== 202) throw new Error(`submit: ${sub.status} ${JSON.stringify(sub.body)}`);
    const verdict = await call("POST", `/submissions/${sub.body.submission_id}/verdict`, {
      key: buyer.apiKey,
      idempotencyKey: `verdict-${sub.body.submission_id}`,
      body: { passed, reason: passed ? "good" : "not yet" },
    });
    if (verdict.status !== 200 && verdict.body?.error?.code !== "SUBMISSION_ALREADY_JUDGED") throw new Error(`verdict: ${verdict.status} ${JSON.stringify(verdict.body)}`);
    return sub.body.submission_id as string;
  };

  const paid = shares(price, winners);
  const credit = (i: number) => {
    add(expected.workerNet, workers[i]!.payTo, paid[i]!.net);
    expected.fees += paid[i]!.fee;
  };

  if (path === "dispute_overturn") {
    const failed = await submitAndJudge(workers[0]!, 1, false);
    const dispute = await fileDispute(call, taskId, workers[0]!, failed);
    await resolveDispute(call, admin, dispute, "overturn_to_worker");
    credit(0);
    expected.jobs.set(taskId, "resolved");
    return;
  }
  if (path === "fail_then_pass") await submitAndJudge(workers[0]!, 1, false);
  for (let i = 0; i < winners; i++) {
    await submitAndJudge(workers[i]!, 2, true);
    credit(i);
  }
  expected.jobs.set(taskId, "resolved");
  if (path === "dispute_uphold" || path === "dispute_refund_buyer") {
    const dispute = await fileDispute(call, taskId, buyer);
    await resolveDispute(call, admin, dispute, path === "dispute_uphold" ? "uphold" : "refund_buyer");
    // After a payout the platform refunds the buyer the full price; the worker keeps theirs.
    if (path === "dispute_refund_buyer") add(expected.buyerRefund, buyer.wallet!, price);
  }
}

async function fileDispute(call: Api, taskId: string, filer: Agent, submissionId?: string): Promise<string> {
  const filed = await call("POST", `/jobs/${taskId}/dispute`, { key: filer.apiKey, body: { reason: "chaos", ...(submissionId ? { submission_id: submissionId } : {}) } });
  if (filed.status === 201) return filed.body.dispute_id as string;
  if (filed.body?.error?.code !== "DISPUTE_ALREADY_OPEN") throw new Error(`dispute: ${filed.status} ${JSON.stringify(filed.body)}`);
  const listed = await call("GET", `/jobs/${taskId}/disputes`, { key: filer.apiKey });
  return (listed.body.disputes as { dispute_id: string; status: string }[]).find((d) => d.status === "open")!.dispute_id;
}

async function resolveDispute(call: Api, admin: Agent, disputeId: string, resolution: string) {
  const resolved = await call("POST", `/disputes/${disputeId}/resolve`, { key: admin.apiKey, body: { resolution, note: "chaos" } });
  if (resolved.status !== 200 && resolved.body?.error?.code !== "DISPUTE_NOT_OPEN") throw new Error(`resolve: ${resolved.status} ${JSON.stringify(resolved.body)}`);
}

function add(map: Map<Address, bigint>, key: Address, amount: bigint) {
  map.set(key, (map.get(key) ?? 0n) + amount);
}

/** Waits until every transfer is final and every job in the state its path ends in. */
async function settle(app: TestApp, expected: Expected, problems: string[]) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const unfinished = await app.db.transfer.count({ where: { status: { in: ["pending", "waiting_for_funds", "sent", "failed"] } } });
    const jobs = await app.db.job.findMany({ where: { id: { in: [...expected.jobs.keys()] } }, select: { id: true, status: true } });
    const wrong = jobs.filter((j) => j.status !== expected.jobs.get(j.id));
    if (unfinished === 0 && wrong.length === 0) return;
    if (Date.now() > deadline) {
      const rows = await app.db.transfer.findMany({ where: { status: { in: ["pending", "waiting_for_funds", "sent", "failed"] } }, select: { id: true, kind: true, status: true, error: true } });
      problems.push(`not settled after 180 s: ${rows.length} transfers unfinished ${JSON.stringify(rows.slice(0, 5))}; ${wrong.length} jobs in another state ${JSON.stringify(wrong.slice(0, 5))}`);
      return;
    }
    // The sweep runs every minute in the app; run it now rather than wait.
    await sleep(1_000);
  }
}

async function checkMoney(ctx: { app: TestApp; expected: Expected; problems: string[]; opsStart: bigint; treasuryStart: bigint; buyerStart: Map<Address, bigint> }) {
  const { app, expected, problems } = ctx;
  for (const [wallet, net] of expected.workerNet) {
    const balance = await app.balanceOf(wallet);
    if (balance !== net) problems.push(`worker ${wallet} holds ${formatUsdc(balance)} USDC, expected ${formatUsdc(net)}`);
  }
  for (const [wallet, start] of ctx.buyerStart) {
    const want = start - (expected.buyerDeposits.get(wallet) ?? 0n) + (expected.buyerRefund.get(wallet) ?? 0n);
    const balance = await app.balanceOf(wallet);
    if (balance !== want) problems.push(`buyer ${wallet} holds ${formatUsdc(balance)} USDC, expected ${formatUsdc(want)}`);
  }
  const fees = (await app.balanceOf(app.treasury as Address)) - ctx.treasuryStart;
  if (fees !== expected.fees) problems.push(`the treasury received ${formatUsdc(fees)} USDC in fees, expected ${formatUsdc(expected.fees)}`);
  const paidOut = [...expected.workerNet.values()].reduce((a, b) => a + b, 0n) + expected.fees + [...expected.buyerRefund.values()].reduce((a, b) => a + b, 0n);
  const ops = await app.balanceOf(app.opsAddress);
  const wantOps = ctx.opsStart + expected.deposits - paidOut;
  if (ops !== wantOps) problems.push(`the operations wallet holds ${formatUsdc(ops)} USDC, expected ${formatUsdc(wantOps)} (start + deposits − payouts − fees − refunds)`);
  // Every transaction the operations wallet sent is a recorded transfer or nonce filler: nothing twice.
  const sent = await app.publicClient.getTransactionCount({ address: app.opsAddress });
  const recorded = (await app.db.transfer.count({ where: { nonce: { not: null } } })) + (await app.db.nonceFiller.count());
  if (sent !== recorded) problems.push(`the operations wallet sent ${sent} transactions; ${recorded} are recorded`);
}
