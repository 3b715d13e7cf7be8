// A person creates a console account, registers an agent they own, manages its keys and
// deactivates it; the key they were shown stops working at once.
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect, test } from "../support/fixtures";
import { uniqueSuffix } from "../support/market";

test("an owner signs up, registers an agent, issues and revokes keys, and deactivates it", async ({ page, request }) => {
  const email = `owner-${uniqueSuffix()}@example.com`;
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill("Olive Owner");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL(/\/my-agents$/);
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
  await expect(page.getByText("You have no agents yet.")).toBeVisible();

  await page.getByLabel("Name").fill("Olive's writer");
  await page.getByRole("button", { name: "Register agent" }).click();
  const firstKey = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(firstKey).toMatch(/^am_live_/);
  const agentCard = page.getByTestId("my-agent").filter({ hasText: "Olive's writer" });
  await expect(agentCard.getByText("active", { exact: true })).toBeVisible();
  await expect(agentCard.getByTestId("api-key")).toHaveCount(1);

  // The key the page showed works for the agent over REST.
  const asAgent = await request.get("/api/v1/jobs?worker_id=me", { headers: { Authorization: `Bearer ${firstKey}` } });
  expect(asAgent.status()).toBe(200);

  await agentCard.getByRole("button", { name: "Issue another key" }).click();
  await expect(agentCard.getByTestId("api-key")).toHaveCount(2);
  await agentCard.getByTestId("api-key").nth(1).getByRole("button", { name: "Revoke" }).click();
  await expect(agentCard.getByTestId("api-key").nth(1).getByText("revoked")).toBeVisible();

  page.once("dialog", (dialog) => dialog.accept());
  await agentCard.getByRole("button", { name: "Deactivate" }).click();
  await expect(agentCard.getByText("deactivated", { exact: true })).toBeVisible();
  const afterDeactivation = await request.get("/api/v1/jobs?worker_id=me", { headers: { Authorization: `Bearer ${firstKey}` } });
  expect(afterDeactivation.status()).toBe(401);

  // Signed out, the page asks to sign in; signing in again shows the same agent.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto("/my-agents");
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Email or password" })).toHaveText("Email or password is not right.");
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/my-agents$/);
  await expect(page.getByTestId("my-agent")).toHaveCount(1);
});

test("an owner proves an agent's wallet: by pasting a signature, and with a browser wallet", async ({ page }) => {
  const pasted = privateKeyToAccount(generatePrivateKey());
  const injected = privateKeyToAccount(generatePrivateKey());
  // A browser wallet (EIP-1193) whose key lives in this test: the page asks, the test signs.
  await page.exposeFunction("__e2eSign", (raw: Hex) => injected.signMessage({ message: { raw } }));
  await page.addInitScript((address) => {
    const sign = (window as unknown as { __e2eSign: (raw: string) => Promise<string> }).__e2eSign;
    (window as unknown as { ethereum: unknown }).ethereum = {
      request: async ({ method, params }: { method: string; params?: unknown[] }) => {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
        if (method === "eth_chainId") return "0x7a69";
        if (method === "personal_sign") return sign(String(params![0]));
        throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
      },
      on: () => undefined,
      removeListener: () => undefined,
    };
  }, injected.address);

  await page.goto("/sign-up");
  await page.getByLabel("Name").fill("Pat Prover");
  await page.getByLabel("Email").fill(`prover-${uniqueSuffix()}@example.com`);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/my-agents$/);

  // Registered with a wallet address: it receives payouts, but is not proven.
  await page.getByLabel("Name").fill("Pat's buyer");
  await page.getByLabel("Wallet address (for payouts)").fill(pasted.address);
  await page.getByRole("button", { name: "Register agent" }).click();
  const card = page.getByTestId("my-agent").filter({ hasText: "Pat's buyer" });
  const agentId = (await card.locator("span.font-mono").first().textContent())!.trim();
  await expect(card.getByTestId("wallet-status")).toContainText("wallet not proven");

  // Signed elsewhere: the page shows the message and takes the signature back.
  await card.getByRole("button", { name: "Sign elsewhere instead" }).click();
  const message = await card.getByTestId("wallet-challenge").inputValue();
  expect(message).toContain(`${pasted.address} is the wallet of agent ${agentId} on Agent Market.`);
  await card.getByLabel("Signature").fill(await injected.signMessage({ message }));
  await card.getByRole("button", { name: "Submit signature" }).click();
  await expect(card.getByRole("alert")).toContainText("signature");
  await expect(card.getByTestId("wallet-status")).toContainText("wallet not proven");
  await card.getByLabel("Signature").fill(await pasted.signMessage({ message }));
  await card.getByRole("button", { name: "Submit signature" }).click();
  await expect(card.getByTestId("wallet-status")).toContainText("wallet proven");
  await expect(card.getByTestId("wallet-status")).not.toContainText("not proven");

  // With the browser wallet: one click, the wallet's account becomes the proven wallet.
  await page.getByLabel("Name").fill("Pat's second");
  await page.getByRole("button", { name: "Register agent" }).click();
  const second = page.getByTestId("my-agent").filter({ hasText: "Pat's second" });
  await expect(second.getByTestId("wallet-status")).toContainText("no wallet");
  await second.getByText("Prove this agent controls a wallet").click();
  await second.getByRole("button", { name: "Sign with browser wallet" }).click();
  await expect(second.getByTestId("wallet-status")).toContainText(injected.address);
  await expect(second.getByTestId("wallet-status")).toContainText("wallet proven");
});
