// An owner points one of their agents at a webhook receiver from the console, sees the signing
// secret once, watches a signed delivery arrive and show up in the delivery log, sends a test
// event, redelivers a delivery and reads its attempts, sees a webhook disabled by a 410 Gone and
// enables it again, then stops them. The panel is checked (and photographed) at 1280 and 390 px.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { privateKeyToAccount } from "viem/accounts";
import { expect, test } from "../support/fixtures";
import { DEFAULT_RUBRIC, uniqueSuffix, unixSecondsFromNow } from "../support/market";

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

test("an owner adds a webhook, receives a signed job.funded delivery, sees it logged, sends a test event, redelivers, enables a disabled webhook, and deletes them", async ({
  page,
  market,
  depositorKey,
}) => {
  const received: Received[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      // This receiver's second endpoint has been taken down for good.
      if (req.url === "/gone") res.writeHead(410).end("gone for good");
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/agent-market`;
  const goneUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/gone`;
  const at = (path: string) => received.filter((r) => r.path === path);

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
    const deliveryId = delivery!.headers["webhook-id"] as string;
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

    // A test event, on request.
    const hook = card.getByTestId("webhook").filter({ hasText: hookUrl });
    await hook.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => at("/agent-market").length, { timeout: 20_000 }).toBe(2);
    const ping = at("/agent-market")[1]!;
    expect(JSON.parse(ping.body)).toMatchObject({ event: "webhook.test", task_id: null });
    const testRow = card.getByTestId("webhook-delivery").filter({ hasText: "webhook.test" });
    await expect(testRow).toContainText("delivered");

    // Redeliver the job.funded delivery: the same webhook-id again, and a second attempt logged.
    const fundedRow = card.getByTestId("webhook-delivery").filter({ hasText: "job.funded" });
    await fundedRow.getByRole("button", { name: "Redeliver" }).click();
    await expect.poll(() => at("/agent-market").length, { timeout: 20_000 }).toBe(3);
    expect(at("/agent-market")[2]!.headers["webhook-id"]).toBe(deliveryId);
    expect(at("/agent-market")[2]!.body).toBe(delivery!.body);
    await expect(fundedRow).toContainText("2 attempts");
    await fundedRow.getByRole("button", { name: "Attempts" }).click();
    await expect(fundedRow.getByTestId("webhook-attempt")).toHaveCount(2);
    await expect(fundedRow.getByTestId("webhook-attempt").first()).toContainText("#2");
    await expect(fundedRow.getByTestId("webhook-attempt").first()).toContainText("204");

    // A receiver that answers 410 Gone disables its webhook at once; the owner sees why, and enables it.
    await card.getByLabel("Webhook URL").fill(goneUrl);
    await card.getByRole("button", { name: "Add webhook" }).click();
    const gone = card.getByTestId("webhook").filter({ hasText: goneUrl });
    await expect(gone).toHaveCount(1);
    await gone.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => at("/gone").length, { timeout: 20_000 }).toBe(1);
    await page.reload();
    const goneAgain = page.getByTestId("my-agent").filter({ hasText: "Wanda's buyer" }).getByTestId("webhook").filter({ hasText: goneUrl });
    await expect(goneAgain.getByTestId("webhook-disabled")).toContainText("the receiver answered 410 Gone");
    await expect(goneAgain).toContainText("disabled");
    await expect(goneAgain.getByRole("button", { name: "Send test event" })).toHaveCount(0);

    // The agent's panel at a desktop and a phone width: nothing in it spills sideways.
    const panel = page.getByTestId("my-agent").filter({ hasText: "Wanda's buyer" });
    await panel.getByTestId("webhook").filter({ hasText: hookUrl }).getByRole("button", { name: "Deliveries" }).click();
    await panel.getByTestId("webhook-delivery").filter({ hasText: "job.funded" }).getByRole("button", { name: "Attempts" }).click();
    await expect(panel.getByTestId("webhook-attempt")).toHaveCount(2);
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 1000 });
      const spilling = await panel.evaluate(
        (root, w) => [...root.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > w + 0.5).map((e) => `${e.tagName} "${(e.textContent ?? "").slice(0, 30)}"`),
        width,
      );
      expect(spilling, `what spills past ${width} px`).toEqual([]);
      await panel.screenshot({ path: test.info().outputPath(`webhooks-panel-${width}.png`) });
    }
    await page.setViewportSize({ width: 1280, height: 1000 });

    await goneAgain.getByRole("button", { name: "Enable" }).click();
    await expect(goneAgain.getByTestId("webhook-disabled")).toHaveCount(0);
    await expect(goneAgain).toContainText("active");
    await expect(goneAgain.getByRole("button", { name: "Send test event" })).toHaveCount(1);

    for (const url of [hookUrl, goneUrl]) {
      await page.getByTestId("webhook").filter({ hasText: url }).getByRole("button", { name: "Delete" }).click();
    }
    await expect(page.getByTestId("my-agent").filter({ hasText: "Wanda's buyer" }).getByTestId("webhook")).toHaveCount(0);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});
