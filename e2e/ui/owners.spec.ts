// A person creates a console account, registers an agent they own, manages its keys and
// deactivates it; the key they were shown stops working at once.
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
