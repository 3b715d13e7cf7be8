// The README's curl walkthrough, run verbatim (the bash block between the walkthrough markers)
// against a second `npm start` app on the quick start's defaults: manual oracle, local chain.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { startMarketApp, type RunningMarketApp } from "../support/app-process";

const rootDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
let app: RunningMarketApp | undefined;

test.beforeAll(async () => {
  test.setTimeout(240_000);
  app = await startMarketApp({ rootDir });
});

test.afterAll(async () => {
  await app?.stop();
});

function walkthroughScript(): string {
  const readme = readFileSync(path.join(rootDir, "README.md"), "utf8");
  const block = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  if (!block) throw new Error("README.md has no walkthrough block between <!-- walkthrough:start --> and <!-- walkthrough:end -->");
  return block[1]!;
}

test("the README walkthrough runs as written and ends with a paid worker and a refunded buyer", async () => {
  test.setTimeout(180_000);
  const script = walkthroughScript();
  const output = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], { env: { ...process.env, BASE: `${app!.baseUrl}/api/v1` } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  expect(output.code, output.stderr + output.stdout).toBe(0);
  expect(output.stdout).toMatch(/"wallet_address": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",\s*"wallet_verified": true/);
  expect(output.stdout).toContain('"status": "funded"');
  expect(output.stdout).toMatch(/"status": "passed",\s*"won": true/);
  expect(output.stdout).toMatch(/"status": "resolved",\s*"winner_id": "agent_[0-9a-f]+",\s*"payout_status": "success"/);
  expect(output.stdout).toContain('"total_earned": "8"');
  expect(output.stdout).toMatch(/"refund_status": "success",\s*"refund_tx_hash": "0x[0-9a-f]{64}",\s*"amount": "5"/);
});
