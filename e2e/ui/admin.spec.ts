// An admin signs in to the console and works the money side: reads the operations wallet's
// solvency, decides a buyer's dispute, and re-sends a payout that was skipped for a missing
// wallet once the worker has added one.
import { randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import type { Page } from "@playwright/test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD } from "../support/admin";
import { appDatabaseUrl } from "../support/app-url";
import { expect, test } from "../support/fixtures";
import { expectStatus, uniqueSuffix, unixSecondsFromNow } from "../support/market";
import { PASSING_MARKER } from "../support/fake-judge";

/** The admin account was signed up and made admin with `npm run admin -- grant-owner` by global-setup.ts. */
async function signInAsAdmin(page: Page) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(E2E_ADMIN_EMAIL);
  await page.getByLabel("Password").fill(E2E_ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/my-agents$/);
  await page.getByRole("link", { name: /Admin: wallet, disputes and payouts/ }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

test("an admin reads solvency, resolves a dispute and retries a skipped payout from /admin", async ({ page, market, request }) => {
  // A resolved job whose winner had no wallet: its payout was skipped. The buyer disputes it.
  const buyer = await market.registerBuyer("admin-buyer");
  const workerId = `walletless-${uniqueSuffix()}`;
  const registered = (await expectStatus(await request.post("/api/v1/agents", { data: { agent_id: workerId, name: "Walletless" } }), 201, "register worker")) as { api_key: string };
  const worker = { agentId: workerId, apiKey: registered.api_key, walletAddress: privateKeyToAccount(generatePrivateKey()).address };
  const job = await market.postFundedJob(buyer, { title: `Admin ${uniqueSuffix()}`, price: "2", expiry: unixSecondsFromNow(3600) });
  await market.claimJob(worker, job.task_id);
  await market.submitWork(worker, job.task_id, `A ${PASSING_MARKER} summary`);
  await expect.poll(async () => (await market.getJob(job.task_id)).payout_status, { timeout: 30_000 }).toBe("skipped");
  const disputeReason = `The summary copies another source (${uniqueSuffix()})`;
  await expectStatus(
    await request.post(`/api/v1/jobs/${job.task_id}/dispute`, { headers: { Authorization: `Bearer ${buyer.apiKey}` }, data: { reason: disputeReason } }),
    201,
    "file dispute",
  );

  await signInAsAdmin(page);

  const solvency = page.getByTestId("solvency");
  await expect(solvency.getByTestId("usdc-balance")).toHaveText(/^\d+(\.\d+)?$/);
  await expect(solvency.getByTestId("liabilities")).toHaveText(/^\d+(\.\d+)?$/);
  // The skipped payout is among the transfers that have not moved, with its reason.
  const skipped = page.getByTestId("attention-transfers").getByRole("listitem").filter({ hasText: `job ${job.task_id.slice(0, 8)}` }).filter({ hasText: "payout" });
  await expect(skipped).toContainText("No wallet");
  await expect(skipped).toContainText("has no wallet address");

  const dispute = page.getByTestId("dispute").filter({ hasText: disputeReason });
  await expect(dispute).toHaveCount(1);
  await dispute.getByLabel("Decision").selectOption("uphold");
  await dispute.getByLabel("Note").fill("The summary is original; the verdict stands");
  await dispute.getByRole("button", { name: "Resolve" }).click();
  await expect(page.getByRole("status").filter({ hasText: "resolved: uphold" })).toBeVisible();
  await expect(page.getByTestId("dispute").filter({ hasText: disputeReason })).toHaveCount(0);
  const disputes = (await expectStatus(await request.get(`/api/v1/jobs/${job.task_id}/disputes`, { headers: { Authorization: `Bearer ${buyer.apiKey}` } }), 200, "disputes")) as {
    disputes: { status: string; resolution: string }[];
  };
  expect(disputes.disputes[0]).toMatchObject({ status: "resolved", resolution: "uphold" });

  // Before the worker has a wallet the retry says so; after, the payout goes out.
  await page.getByLabel("Job id").fill(job.task_id);
  await page.getByRole("button", { name: "Retry payouts" }).click();
  await expect(page.getByRole("alert").filter({ hasText: workerId })).toContainText("wallet");
  await expectStatus(
    await request.patch(`/api/v1/agents/${workerId}`, { headers: { Authorization: `Bearer ${worker.apiKey}` }, data: { wallet_address: worker.walletAddress } }),
    200,
    "add wallet",
  );
  await page.getByRole("button", { name: "Retry payouts" }).click();
  await expect(page.getByTestId("retry-result")).toContainText("Payout status: success", { timeout: 30_000 });
  expect((await market.getJob(job.task_id)).payout_status).toBe("success");
});

test("an admin sees background work that gave up, requeues it and discards it from /admin", async ({ page }, testInfo) => {
  // Work that fails every attempt, made the way the app would queue it: a transfer to send that
  // does not exist. Queued with no retry, so the app's runner gives up on it at once.
  const transferId = randomUUID();
  const boss = new PgBoss({ connectionString: appDatabaseUrl(), schema: "pgboss", supervise: false, schedule: false, migrate: false });
  await boss.start();
  const db = new pg.Client({ connectionString: appDatabaseUrl() });
  await db.connect();
  try {
    const id = await boss.send("payouts.send-transfer", { transferId }, { singletonKey: transferId, retryLimit: 0 });
    const state = async () => (await db.query<{ state: string }>("SELECT state::text AS state FROM pgboss.job WHERE id = $1", [id])).rows[0]?.state;
    await expect.poll(state, { timeout: 30_000 }).toBe("failed");

    await signInAsAdmin(page);
    const section = page.getByTestId("dead-letters");
    const item = section.getByTestId("dead-letter").filter({ hasText: transferId });
    await expect(item).toContainText("Send a transfer");
    await expect(item).toContainText("1 attempt");
    await expect(item).toContainText(`transfer ${transferId} not found`);
    await page.screenshot({ path: testInfo.outputPath("admin-dead-letters-1280.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await section.scrollIntoViewIfNeeded();
    await page.screenshot({ path: testInfo.outputPath("admin-dead-letters-390.png"), fullPage: true });
    await section.screenshot({ path: testInfo.outputPath("admin-dead-letters-section-390.png") });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Requeued, it runs again at once; still failing, it comes back.
    await item.getByRole("button", { name: "Requeue" }).click();
    await expect(section.getByRole("status")).toContainText(`Requeued Send a transfer (${id!.slice(0, 8)})`);
    await expect.poll(state, { timeout: 30_000 }).toBe("failed");
    await expect(async () => {
      await page.reload();
      await expect(item).toHaveCount(1, { timeout: 2_000 });
    }).toPass({ timeout: 30_000 });

    // Discarded, it leaves the list for good.
    await item.getByRole("button", { name: "Discard" }).click();
    await expect(item).toHaveCount(0);
    expect(await state()).toBeUndefined();
  } finally {
    await db.end();
    await boss.stop({ graceful: false, wait: true });
  }
});
