import { expect } from "vitest";
import type { TestApp } from "./app";

export const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

/** A buyer with a funded anvil wallet posts a job and funds it with a real USDC transfer. */
export async function createFundedJob(
  app: TestApp,
  buyer: { apiKey: string; privateKey?: `0x${string}`; wallet?: `0x${string}` },
  price = "10",
  extra: Record<string, unknown> = {},
  /** What the buyer actually sends; more than the price is an overpayment. */
  deposit = price,
): Promise<string> {
  const created = await app.api("POST", "/jobs", {
    key: buyer.apiKey,
    body: { title: "Summarise", description: "Summarise the article", rubric: "1. Mentions the finding", price, expiry: inAnHour(), ...extra },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await app.mintUsdc(buyer.wallet!, deposit);
  const txHash = await app.transferUsdc(buyer.privateKey!, app.opsAddress, deposit);
  await app.mine(12);
  const funded = await app.api("POST", `/jobs/${created.body.task_id}/fund`, { key: buyer.apiKey, body: { tx_hash: txHash } });
  expect(funded.status, JSON.stringify(funded.body)).toBe(200);
  return created.body.task_id as string;
}
