// The console's job pages, driven by agents acting over REST. The pages poll the API (every 5 s
// on /jobs, 3 s on a job), so assertions wait for the UI instead of reloading.
import type { Locator, Page } from "@playwright/test";
import { expect, test } from "../support/fixtures";
import { FAILING_REASON, JUDGED_CRITERION, PASSING_REASON } from "../support/fake-judge";
import { DEFAULT_RUBRIC, uniqueSuffix, unixSecondsFromNow, type Job } from "../support/market";

const JUDGING_TIMEOUT_MS = 30_000;

function jobRow(page: Page, title: string): Locator {
  return page.getByTestId("job-row").filter({ hasText: title });
}

/** The badge next to the job's title; submission badges further down share the test id. */
function jobStatus(page: Page): Locator {
  return page.getByRole("heading", { level: 1 }).locator("xpath=following-sibling::*[@data-testid='status']");
}

/** A value in the job page's facts grid (<dt>label</dt><dd>value</dd>). */
function jobField(page: Page, label: string): Locator {
  return page.locator("dt", { hasText: new RegExp(`^${label}$`) }).locator("xpath=following-sibling::dd");
}

function expiryTooltip(job: Job): string {
  return new Date(job.expiry * 1000).toISOString();
}

test("a funded job is listed with its status, price and expiry, and its page follows the work to resolution", async ({ page, market }) => {
  const title = `Summarise the article ${uniqueSuffix()}`;
  const buyer = await market.registerBuyer();
  const worker = await market.registerWorker();
  const job = await market.postFundedJob(buyer, { title, price: "2.5", expiry: unixSecondsFromNow(2 * 3600) });

  await test.step("the jobs list shows it", async () => {
    await page.goto("/jobs");
    const row = jobRow(page, title);
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId("status")).toHaveText("funded");
    await expect(row).toContainText("2.5 USDC");
    await expect(row.getByTitle(expiryTooltip(job))).toHaveText("in 2 hours");
    await expect(row).toContainText(buyer.agentId);
  });

  await test.step("clicking it opens the job page with the rubric", async () => {
    await jobRow(page, title).getByRole("link", { name: title }).click();
    await expect(page).toHaveURL(new RegExp(`/jobs/${job.task_id}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);
    await expect(jobStatus(page)).toHaveText("funded");
    await expect(page.getByTestId("rubric")).toHaveText(DEFAULT_RUBRIC);
    await expect(page.getByText("No worker has claimed this job yet.")).toBeVisible();
    // Each deadline: work until the expiry, nothing in judgment, not settled so not yet time-limited to dispute.
    await expect(page.getByTestId("deadline-claim")).toContainText("in 2 hours");
    await expect(page.getByTestId("deadline-claim").getByTitle(expiryTooltip(job))).toBeVisible();
    await expect(page.getByTestId("deadline-judged")).toContainText("nothing in judgment");
    await expect(page.getByTestId("deadline-dispute")).toContainText("not settled yet");
  });

  await test.step("a worker's claim shows as a participant", async () => {
    await market.claimJob(worker, job.task_id);
    await expect(page.getByTestId("participant")).toHaveCount(1);
    await expect(page.getByTestId("participant")).toContainText(worker.agentId);
  });

  await test.step("a GOOD delivery is judged, passes, and resolves the job", async () => {
    await market.submitWork(worker, job.task_id, "A GOOD summary: the study found the effect.");
    const submission = page.getByTestId("submission");
    await expect(submission).toHaveCount(1, { timeout: JUDGING_TIMEOUT_MS });
    await expect(submission).toContainText(worker.agentId);
    await expect(submission.getByTestId("status")).toHaveText("passed", { timeout: JUDGING_TIMEOUT_MS });
    await expect(submission).toContainText(PASSING_REASON);
    await expect(submission).toContainText("model judge");
    // Oracle order: deterministic checks, the judge's verdict, then one step per rubric criterion.
    await expect(submission.getByTestId("oracle-step")).toContainText([
      "size_check",
      "artifact_type_check",
      "llm_judge",
      `criterion:${JUDGED_CRITERION}`,
    ]);
    await expect(jobStatus(page)).toHaveText("resolved", { timeout: JUDGING_TIMEOUT_MS });
    await expect(jobField(page, "Winner")).toHaveText(worker.agentId);
    // Settled: no more work, and DISPUTE_WINDOW_HOURS (72) to dispute it.
    await expect(page.getByTestId("deadline-claim")).toContainText("closed");
    await expect(page.getByTestId("deadline-dispute")).toContainText("in 3 days");
  });
});

test("a failing delivery shows as failed with the judge's reason and leaves the job open to work", async ({ page, market }) => {
  const title = `Translate the abstract ${uniqueSuffix()}`;
  const buyer = await market.registerBuyer();
  const worker = await market.registerWorker();
  const job = await market.postFundedJob(buyer, { title });
  await market.claimJob(worker, job.task_id);
  await market.submitWork(worker, job.task_id, "an unrelated answer");

  await page.goto(`/jobs/${job.task_id}`);
  const submission = page.getByTestId("submission");
  await expect(submission.getByTestId("status")).toHaveText("failed", { timeout: JUDGING_TIMEOUT_MS });
  await expect(submission).toContainText(FAILING_REASON);
  await expect(submission.getByTestId("oracle-step").filter({ hasText: "llm_judge" })).toContainText("failed");
  // Still workable: "funded", or "claimed" where the lifecycle marks jobs with active workers.
  await expect(jobStatus(page)).toHaveText(/^(funded|claimed)$/);
  await expect(jobField(page, "Winner")).toHaveText("—");
});

test("an unfunded job shows as open", async ({ page, market }) => {
  const title = `Unfunded task ${uniqueSuffix()}`;
  const buyer = await market.registerBuyer();
  const job = await market.postJob(buyer, { title, price: "4" });

  await page.goto("/jobs");
  const row = jobRow(page, title);
  await expect(row.getByTestId("status")).toHaveText("open");
  await expect(row).toContainText("4 USDC");

  await row.getByRole("link", { name: title }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${job.task_id}$`));
  await expect(jobStatus(page)).toHaveText("open");
  await expect(page.getByText("No submissions yet.")).toBeVisible();
});

test("the status filter shows only jobs in the chosen status", async ({ page, market }) => {
  const suffix = uniqueSuffix();
  const openTitle = `Filter open ${suffix}`;
  const cancelledTitle = `Filter cancelled ${suffix}`;
  const buyer = await market.registerBuyer();
  await market.postJob(buyer, { title: openTitle });
  const cancelled = await market.postJob(buyer, { title: cancelledTitle });
  expect((await market.cancelJob(buyer, cancelled.task_id)).status).toBe("cancelled");

  await page.goto("/jobs");
  const rows = page.getByTestId("job-row");
  await expect(page.getByRole("tab", { name: "all" })).toHaveAttribute("aria-selected", "true");
  await expect(jobRow(page, openTitle)).toHaveCount(1);
  await expect(jobRow(page, cancelledTitle)).toHaveCount(1);

  for (const [status, shown, hidden] of [
    ["cancelled", cancelledTitle, openTitle],
    ["open", openTitle, cancelledTitle],
  ] as const) {
    await page.getByRole("tab", { name: status }).click();
    await expect(page.getByRole("tab", { name: status })).toHaveAttribute("aria-selected", "true");
    await expect(jobRow(page, shown)).toHaveCount(1);
    await expect(jobRow(page, hidden)).toHaveCount(0);
    // Other tests' jobs share the list: whatever is shown must be in the chosen status.
    await expect.poll(async () => [...new Set(await rows.getByTestId("status").allTextContents())]).toEqual([status]);
  }

  await page.getByRole("tab", { name: "all" }).click();
  await expect(jobRow(page, openTitle)).toHaveCount(1);
  await expect(jobRow(page, cancelledTitle)).toHaveCount(1);
});
