// An admin checks the books against the chain in the console: the wallet's equation and every
// job's money state on /admin/reconciliation; then USDC arrives that funds no job, a recorded run
// finds the drift, and /admin raises the banner. Screenshots at 1280 and 390 px go to
// test-results/reconciliation/.
import path from "node:path";
import type { Page } from "@playwright/test";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD } from "../support/admin";
import { expect, test } from "../support/fixtures";
import { uniqueSuffix, unixSecondsFromNow } from "../support/market";

const SHOTS = path.join(process.cwd(), "test-results", "reconciliation");

async function screenshots(page: Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

test("an admin reconciles books against the chain and sees the drift banner", async ({ page, market }) => {
  const buyer = await market.registerBuyer("recon-buyer");
  const job = await market.postFundedJob(buyer, { title: `Reconcile ${uniqueSuffix()}`, price: "3", expiry: unixSecondsFromNow(3600) });

  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(E2E_ADMIN_EMAIL);
  await page.getByLabel("Password").fill(E2E_ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/my-agents$/);
  await page.goto("/admin");
  await expect(page.getByTestId("reconciliation-banner")).toBeVisible();
  await page.getByRole("link", { name: /Reconciliation: books against chain/ }).click();
  await expect(page).toHaveURL(/\/admin\/reconciliation$/);

  // The equation holds whatever the other tests are doing: it is one read of the chain.
  await expect(page.getByTestId("reconciliation-verdict")).toBeVisible({ timeout: 20_000 });
  const expected = await page.getByTestId("expected-balance").textContent();
  await expect(page.getByTestId("chain-balance")).toHaveText(expected!);
  await page.getByTestId("state-escrowed").click();
  const row = page.getByTestId("reconciliation-job").filter({ hasText: job.task_id.slice(0, 8) });
  await expect(row).toContainText("escrowed");
  await expect(row).toContainText("3");
  await page.getByRole("button", { name: /^all funded$/ }).click();
  await screenshots(page, "page");

  // USDC that funds no job: drift once the 5 s grace of this app has passed.
  const stray = await market.sendStrayDeposit("1.25");
  await page.waitForTimeout(6_000);
  await page.getByRole("button", { name: "Record a run and alert" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Run recorded: drift" })).toBeVisible({ timeout: 20_000 });
  const difference = page.getByTestId("difference").filter({ hasText: "unattributed_deposit" }).filter({ hasText: stray.slice(0, 10) });
  await expect(difference).toContainText("1.25 USDC");
  await expect(page.getByTestId("reconciliation-verdict")).toContainText("Drift");
  await expect(page.getByTestId("reconciliation-run").first()).toContainText("drift");
  await screenshots(page, "page-drift");

  await page.getByRole("link", { name: "← Admin" }).click();
  const banner = page.getByTestId("reconciliation-banner");
  await expect(banner).toContainText("Books and chain disagree");
  await expect(banner).toContainText("unattributed deposit");
  await screenshots(page, "admin-banner");
  await banner.getByRole("link", { name: "Review the reconciliation" }).click();
  await expect(page).toHaveURL(/\/admin\/reconciliation$/);
});
