import { getEnv } from "~/env";
import { setDispatcherFactory } from "./client";

/**
 * For code served by Next's own route handlers (serverless deployments, no scripts/start.ts):
 * enqueue to Inngest when configured, else to pg-boss without running workers here.
 */
export function installRouteDispatcher(): void {
  setDispatcherFactory(async () => {
    if (getEnv().inngestEnabled) return (await import("./inngest")).inngestDispatcher;
    const { startPgBossRunner } = await import("./pg-boss-runner");
    await startPgBossRunner({ databaseUrl: getEnv().DATABASE_URL, workers: false });
    const { getCurrentDispatcher } = await import("./client");
    return getCurrentDispatcher()!;
  });
}
