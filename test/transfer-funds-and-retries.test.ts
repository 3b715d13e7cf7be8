import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAbiParameters, keccak256, pad, type Address, type Hex } from "viem";
import { parseUsdc } from "~/server/money";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";

// Transfers reach a final state by themselves: one the operations wallet cannot cover waits
// (USDC or gas) and goes out oldest first once it can; one the chain reverts is sent again
// automatically with backoff (TRANSFER_RETRY_BASE_SECONDS = 1 here), and after the last
// automatic try it waits in the admin's list with its reason.
let app: TestApp;
let admin: RegisteredAgent;
let buyer: Awaited<ReturnType<TestApp["registerAgent"]>>;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["funds-admin"], extraEnv: { TRANSFER_RETRY_BASE_SECONDS: "1", TRANSFER_AUTO_RETRIES: "2" } });
  admin = await app.registerAgent("funds-admin");
  buyer = await app.registerAgent("funds-buyer", { wallet: true });
});

afterAll(async () => {
  await app?.stop();
});

async function passWork(taskId: string, worker: RegisteredAgent) {
  await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
  const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: `work by ${worker.agentId}` } });
  const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "good" } });
  expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
}

const transfersOf = (taskId: string) => app.db.transfer.findMany({ where: { jobId: taskId }, orderBy: { createdAt: "asc" } });
const sweep = async () => (await import("~/server/jobs/functions/sweep")).sweepUnfinishedWork();

/** Waits as production would, with the once-a-minute sweep running every half second. */
async function waitWithSweeps(what: string, done: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sweep();
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Moves every USDC of the operations wallet away, behind the app's back. */
async function emptyOperationsWallet() {
  const held = await app.balanceOf(app.opsAddress);
  if (held > 0n) await app.transferUsdc(app.opsKey, "0x0000000000000000000000000000000000007777", (Number(held) / 1e6).toString());
}

/** TestUSDC keeps balanceOf at storage slot 1: sets the operations wallet's balance directly. */
async function setOpsUsdc(amount: bigint) {
  const slot = keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [app.opsAddress, 1n]));
  await app.testClient.setStorageAt({ address: app.usdcAddress, index: slot, value: pad(`0x${amount.toString(16)}` as Hex, { size: 32 }) });
}

describe("waiting for funds", () => {
  it("does not send a transfer the wallet cannot cover; it waits, oldest first, and goes out by itself once topped up", async () => {
    const first = await app.registerAgent("funds-first", { wallet: "0x0000000000000000000000000000000000007701" });
    const second = await app.registerAgent("funds-second", { wallet: "0x0000000000000000000000000000000000007702" });
    const bigJob = await createFundedJob(app, buyer, "10");
    const smallJob = await createFundedJob(app, buyer, "5");
    await emptyOperationsWallet();
    const nonceBefore = await app.publicClient.getTransactionCount({ address: app.opsAddress });

    await passWork(bigJob, first);
    await app.waitFor("big payout waiting", async () => (await transfersOf(bigJob)).every((t) => t.status === "waiting_for_funds"));
    await passWork(smallJob, second);
    await app.waitFor("small payout waiting", async () => (await transfersOf(smallJob)).every((t) => t.status === "waiting_for_funds"));
    const [bigPayout] = await transfersOf(bigJob);
    expect(bigPayout!.error).toMatch(/holds 0 USDC.*needs 8/);
    expect((await transfersOf(smallJob))[0]!.error).toMatch(/older transfer is waiting/);
    // Nothing was signed or broadcast: no nonce used, no gas spent on a transfer bound to revert.
    expect(await app.publicClient.getTransactionCount({ address: app.opsAddress })).toBe(nonceBefore);

    const solvency = (await app.api("GET", "/platform/solvency", { key: admin.apiKey })).body;
    expect(solvency.waiting_for_funds).toEqual({ count: 4, amount: "15" });
    const health = (await app.api("GET", "/health")).body;
    expect(health.status).toBe("degraded");
    expect(health.checks.transfers.detail).toContain("4 waiting for the operations wallet to be topped up");
    const listed = await app.api("GET", "/admin/transfers?attention=waiting_for_funds", { key: admin.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.transfers.map((t: { task_id: string; kind: string }) => `${t.task_id === bigJob ? "big" : "small"} ${t.kind}`)).toEqual(["big payout", "big fee", "small payout", "small fee"]);
    expect(listed.body.transfers[0].error).toMatch(/needs 8/);

    // Enough for the small job's payout but not the big one's: nothing overtakes the oldest.
    await app.mintUsdc(app.opsAddress, "4");
    await sweep();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await transfersOf(smallJob)).map((t) => t.status)).toEqual(["waiting_for_funds", "waiting_for_funds"]);
    expect(await app.balanceOf("0x0000000000000000000000000000000000007702")).toBe(0n);

    await app.mintUsdc(app.opsAddress, "11");
    await sweep();

    await app.waitFor("all four final", async () => {
      const all = [...(await transfersOf(bigJob)), ...(await transfersOf(smallJob))];
      if (all.every((t) => t.status === "success")) return true;
      console.log(all.map((t) => `${t.kind}:${t.status}:${t.error ?? ""}`).join(" | "));
      return false;
    }, 30_000);
    expect(await app.balanceOf("0x0000000000000000000000000000000000007701")).toBe(parseUsdc("8"));
    expect(await app.balanceOf("0x0000000000000000000000000000000000007702")).toBe(parseUsdc("4"));
    expect((await app.api("GET", "/health")).body.checks.transfers.ok).toBe(true);
  });

  it("waits for gas too: a wallet without ETH sends nothing, and /health says gas is low", async () => {
    const worker = await app.registerAgent("gas-worker", { wallet: "0x0000000000000000000000000000000000007703" });
    const taskId = await createFundedJob(app, buyer, "10");
    const eth = await app.publicClient.getBalance({ address: app.opsAddress });
    await app.testClient.setBalance({ address: app.opsAddress, value: 1000n });
    try {
      await passWork(taskId, worker);
      await app.waitFor("payout waiting for gas", async () => (await transfersOf(taskId)).every((t) => t.status === "waiting_for_funds"));
      expect((await transfersOf(taskId))[0]!.error).toMatch(/1000 wei of ETH; gas .* needs up to/);
      const health = (await app.api("GET", "/health")).body;
      expect(health.checks.transfers.detail).toMatch(/gas low/);
      expect((await app.api("GET", "/platform/solvency", { key: admin.apiKey })).body.gas).toMatchObject({ eth_balance_wei: "1000", low: true });
    } finally {
      await app.testClient.setBalance({ address: app.opsAddress, value: eth });
    }
    await waitWithSweeps("paid once gas is back", async () => (await transfersOf(taskId)).every((t) => t.status === "success"));
    expect(await app.balanceOf("0x0000000000000000000000000000000000007703")).toBe(parseUsdc("8"));
  });
});

describe("reverted transfers", () => {
  it("sends a reverted payout again by itself after its backoff, and pays it once", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000007704";
    const worker = await app.registerAgent("revert-worker", { wallet });
    const taskId = await createFundedJob(app, buyer, "10");
    const held = await app.balanceOf(app.opsAddress);
    // The payout is broadcast while the wallet can cover it, and its USDC vanishes before it is
    // mined (here, straight from the token's storage): the chain reverts it.
    await app.manualBlocks({ automine: false });
    await passWork(taskId, worker);
    await app.waitFor("payout and fee broadcast", async () => (await transfersOf(taskId)).every((t) => t.status === "sent"));
    await setOpsUsdc(0n);
    await app.autoBlocks();
    await app.waitFor("both reverted", async () => (await transfersOf(taskId)).every((t) => t.status === "failed"), 20_000);
    const failed = (await transfersOf(taskId))[0]!;
    expect(failed.error).toMatch(/reverted on chain .*automatic retry 1 of 2 at /);
    expect(failed.nextRetryAt).not.toBeNull();
    expect(await app.balanceOf(wallet)).toBe(0n);
    const job = (await app.api("GET", `/jobs/${taskId}`)).body;
    expect(job.transfers[0]).toMatchObject({ status: "failed", next_retry_at: failed.nextRetryAt!.toISOString() });

    await setOpsUsdc(held);
    await waitWithSweeps("paid on the automatic retry", async () => (await transfersOf(taskId)).every((t) => t.status === "success"));
    expect(Date.now()).toBeGreaterThanOrEqual(failed.nextRetryAt!.getTime());
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
    const events = await app.api("GET", `/jobs/${taskId}/events?limit=200`, { key: buyer.apiKey });
    expect(events.body.events.filter((e: { kind: string }) => e.kind === "transfers_retried").map((e: { actor: string }) => e.actor)).toEqual(["system", "system"]);
    // Nothing more happens: a later sweep finds nothing due.
    await sweep();
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });

  it("after the last automatic retry it waits in the admin's list with the reason, and an admin's retry pays it", async () => {
    const wallet: Address = "0x0000000000000000000000000000000000007705";
    const worker = await app.registerAgent("giveup-worker", { wallet });
    const taskId = await createFundedJob(app, buyer, "10");
    const held = await app.balanceOf(app.opsAddress);
    await app.manualBlocks({ automine: false });
    await passWork(taskId, worker);
    await app.waitFor("broadcast", async () => (await transfersOf(taskId)).every((t) => t.status === "sent"));
    // Both automatic retries already spent (as if they had reverted too).
    await app.db.transfer.updateMany({ where: { jobId: taskId }, data: { autoRetries: 2 } });
    await setOpsUsdc(0n);
    await app.autoBlocks();
    await app.waitFor("reverted for good", async () => (await transfersOf(taskId)).every((t) => t.status === "failed"), 20_000);
    const gaveUp = (await transfersOf(taskId))[0]!;
    expect(gaveUp.nextRetryAt).toBeNull();
    expect(gaveUp.error).toMatch(/gave up after 2 automatic retries: waits for an admin/);

    await setOpsUsdc(held);
    await sweep();
    expect((await transfersOf(taskId)).every((t) => t.status === "failed")).toBe(true);
    const listed = await app.api("GET", "/admin/transfers?attention=failed", { key: admin.apiKey });
    const mine = listed.body.transfers.filter((t: { task_id: string }) => t.task_id === taskId);
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatchObject({ attention: "failed", next_retry_at: null });
    expect(mine[0].error).toMatch(/gave up/);
    expect((await app.api("GET", "/admin/transfers", { key: buyer.apiKey })).status).toBe(403);

    const retried = await app.api("POST", `/admin/jobs/${taskId}/retry-payout`, { key: admin.apiKey });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    await app.waitFor("paid after the admin's retry", async () => (await transfersOf(taskId)).every((t) => t.status === "success"), 30_000);
    expect(await app.balanceOf(wallet)).toBe(parseUsdc("8"));
  });
});
