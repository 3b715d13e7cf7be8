// Once per `playwright test` run: a fake judge model, then the real app on embedded parts in a
// fresh data directory, and its admin account (made admin with `npm run admin`, as in production). Tests find the app through E2E_BASE_URL (Playwright hands environment
// variables set here to its workers). The returned function is the global teardown.
import fs from "node:fs/promises";
import path from "node:path";
import type { FullConfig } from "@playwright/test";
import { createE2eAdmin } from "./support/admin";
import { ensureFreshBuild, startMarketApp } from "./support/app-process";
import { BASE_URL_VARIABLE, DATABASE_URL_VARIABLE } from "./support/app-url";
import { FAKE_MODEL_ID, startFakeJudge } from "./support/fake-judge";

export default async function globalSetup(config: FullConfig): Promise<() => Promise<void>> {
  const rootDir = config.configFile ? path.dirname(config.configFile) : process.cwd();
  const started = Date.now();

  ensureFreshBuild(rootDir);
  const judge = await startFakeJudge();
  let app;
  try {
    app = await startMarketApp({ rootDir, oracle: { baseUrl: judge.baseUrl, model: FAKE_MODEL_ID } });
  } catch (error) {
    await judge.close();
    throw error;
  }
  try {
    await createE2eAdmin({ rootDir, baseUrl: app.baseUrl, dataDir: app.dataDir });
  } catch (error) {
    await app.stop();
    await judge.close();
    throw error;
  }
  process.env[BASE_URL_VARIABLE] = app.baseUrl;
  process.env[DATABASE_URL_VARIABLE] = app.databaseUrl;
  console.log(`[e2e] app ready at ${app.baseUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s (data ${path.relative(rootDir, app.dataDir)}, log ${path.relative(rootDir, app.logFile)})`);

  const runningApp = app;
  return async function globalTeardown() {
    const leftovers = await runningApp.stop();
    await judge.close();
    // The log outlives the data directory, for post-mortems of failed runs.
    const keptLog = path.join(rootDir, ".data", "e2e-last-app.log");
    await fs.copyFile(runningApp.logFile, keptLog).catch(() => undefined);
    if (process.env.E2E_KEEP_DATA !== "1" && leftovers.length === 0) {
      await fs.rm(runningApp.dataDir, { recursive: true, force: true });
    }
    if (leftovers.length > 0) {
      throw new Error(`[e2e] processes of the app survived SIGKILL (data kept in ${runningApp.dataDir}):\n  ${leftovers.join("\n  ")}`);
    }
  };
}
