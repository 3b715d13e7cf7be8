// The `test` every e2e spec uses: Playwright's, pointed at the app started by global-setup.ts,
// plus a `market` for acting as agents over REST.
import { test as base, expect } from "@playwright/test";
import type { Hex } from "viem";
import { ANVIL_DEV_PRIVATE_KEYS } from "../../src/server/dev/anvil";
import { appBaseUrl } from "./app-url";
import { Market } from "./market";

// start.ts gives accounts 0 (USDC deployer), 1 (operations wallet), 2 (treasury) and 9 (faucet)
// roles; 3–8 are free for buyers.
const FIRST_DEPOSITOR_ACCOUNT = 3;
const LAST_DEPOSITOR_ACCOUNT = 8;

interface TestFixtures {
  market: Market;
}

interface WorkerFixtures {
  /**
   * One anvil account per concurrently running worker, so two workers never race for the same
   * nonce. A worker's tests run one after another and may share it.
   */
  depositorKey: Hex;
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  baseURL: async ({}, use) => {
    await use(appBaseUrl());
  },

  depositorKey: [
    async ({}, use, workerInfo) => {
      const accountIndex = FIRST_DEPOSITOR_ACCOUNT + workerInfo.parallelIndex;
      if (accountIndex > LAST_DEPOSITOR_ACCOUNT) {
        throw new Error(`at most ${LAST_DEPOSITOR_ACCOUNT - FIRST_DEPOSITOR_ACCOUNT + 1} workers can sign deposits (parallel index ${workerInfo.parallelIndex})`);
      }
      await use(ANVIL_DEV_PRIVATE_KEYS[accountIndex]!);
    },
    { scope: "worker" },
  ],

  market: async ({ request, depositorKey }, use) => {
    await use(new Market(request, depositorKey));
  },

  // Every console test also proves the pages work under their Content-Security-Policy: any
  // violation the browser reports (a blocked script, style, connection or frame) fails it.
  page: async ({ page }, use) => {
    const violations: string[] = [];
    // Init scripts come from the browser's tooling, not the page, so the policy does not apply.
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"} in ${event.documentURI}`);
      });
    });
    page.on("console", (message) => {
      if (/CSP violation|Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await use(page);
    expect(violations, "Content-Security-Policy violations reported by the browser").toEqual([]);
  },
});

export { expect };
