import { defineConfig, devices } from "@playwright/test";

// End-to-end tests against the real `npm start` server (scripts/start.ts), started once per run
// by e2e/global-setup.ts on embedded Postgres and anvil in a throwaway data directory, with a
// local fake judge model. Tests read the server's URL from E2E_BASE_URL (see e2e/support/fixtures.ts).

const inCi = Boolean(process.env.CI);

// Debian's Chromium (apt-get install chromium): Playwright must never download a browser here.
const DEBIAN_CHROMIUM = {
  executablePath: process.env.E2E_CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
};

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  // One shared app for all tests; every test creates its own agents and jobs, so they can run
  // in parallel. Each worker signs deposits with its own anvil account (see fixtures.ts), and
  // there are 6 such accounts, hence the cap.
  fullyParallel: true,
  workers: Math.min(Number(process.env.E2E_WORKERS ?? 2), 6),
  forbidOnly: inCi,
  retries: inCi ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // The whole run, app start (and a `next build` when the build is stale) included.
  globalTimeout: 15 * 60_000,
  reporter: inCi ? [["list"], ["html", { open: "never" }]] : [["list"]],
  use: {
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "api",
      testDir: "e2e/api",
      // Agents over HTTP with the `request` fixture: no browser is launched.
    },
    {
      name: "ui",
      testDir: "e2e/ui",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: DEBIAN_CHROMIUM,
      },
    },
  ],
});
