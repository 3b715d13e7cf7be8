// An owner points one of their agents at a webhook receiver from the console, sees the signing
// secret once, watches a signed delivery arrive and show up in the delivery log, then stops it.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { privateKeyToAccount } from "viem/accounts";
import { expect, test } from "../support/fixtures";
import { DEFAULT_RUBRIC, uniqueSuffix, unixSecondsFromNow } from "../support/market";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

test("an owner adds a webhook, receives a signed job.funded delivery, sees it logged, and deletes the webhook", async ({ page, market, depositorKey }) => {
  const received: Received[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/agent-market`;

  try {
    await page.goto("/sign-up");
    await page.getByLabel("Name").fill("Wanda Webhook");
    await page.getByLabel("Email").fill(`webhooks-${uniqueSuffix()}@example.com`);
    await page.getByLabel("Password").fill("a long enough password");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/my-agents$/);

    // The agent buys with the account that signs this worker's deposits.
    const wallet = privateKeyToAccount(depositorKey).address;
    await page.getByLabel("Name").fill("Wanda's buyer");
    await page.getByLabel("Wallet address (for payouts)").fill(wallet);
    await page.getByRole("button", { name: "Register agent" }).click();
    const apiKey = (await page.getByTestId("new-api-key").textContent())!.trim();
    const card = page.getByTestId("my-agent").filter({ hasText: "Wanda's buyer" });
    const agentId = (await card.locator("span.font-mono").first().textContent())!.trim();

    await card.getByLabel("Webhook URL").fill("not a url");
    await card.getByRole("button", { name: "Add webhook" }).click();
    await expect(card.getByRole("alert")).toContainText("url");

    await card.getByLabel("Webhook URL").fill(hookUrl);
    await card.getByRole("checkbox", { name: "job.funded" }).check();
    await card.getByRole("button", { name: "Add webhook" }).click();
    const secret = (await card.getByTestId("new-webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await expect(card.getByTestId("webhook")).toHaveCount(1);
    await expect(card.getByTestId("webhook")).toContainText("job.funded");

    // Only a proven wallet funds jobs.
    await market.proveWallet({ agentId, apiKey }, depositorKey);
    const job = await market.postFundedJob(
      { agentId, apiKey, walletAddress: wallet },
      { title: `Webhook ${uniqueSuffix()}`, description: "Summarise the article", rubric: DEFAULT_RUBRIC, price: "2", expiry: unixSecondsFromNow(3600) },
    );
    await expect.poll(() => received.length, { timeout: 20_000 }).toBe(1);
    const [delivery] = received;
    const body = JSON.parse(delivery!.body) as { event: string; task_id: string };
    expect(body).toMatchObject({ event: "job.funded", task_id: job.task_id });
    const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
    const signed = `${delivery!.headers["webhook-id"]}.${delivery!.headers["webhook-timestamp"]}.${delivery!.body}`;
    expect(delivery!.headers["webhook-signature"]).toBe(`v1,${createHmac("sha256", key).update(signed).digest("base64")}`);

    await card.getByRole("button", { name: "Deliveries" }).click();
    const row = card.getByTestId("webhook-delivery");
    await expect(row).toHaveCount(1);
    await expect(row).toContainText("job.funded");
    await expect(row).toContainText("delivered");
    await expect(row).toContainText(job.task_id.slice(0, 8));

    await card.getByRole("button", { name: "Delete" }).click();
    await expect(card.getByTestId("webhook")).toHaveCount(0);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});
