import { describe, expect, it } from "vitest";
import { MONEY_PATHS, runChaos } from "../scripts/chaos/chaos";

// The small chaos run CI does (npm run chaos does the large ones): every money path while the app
// is SIGKILLed and restarted, the chain's RPC drops, stalls and fails, and the webhook receiver
// comes and goes; then every dollar and every delivery is checked, and the books against the chain.
describe("chaos", () => {
  it("drives every money path through kills and faults and ends with the money exact and the books clean", async () => {
    const report = await runChaos({ jobs: 24, kills: 3, concurrency: 4, seed: 7 });
    expect(report.problems).toEqual([]);
    for (const path of MONEY_PATHS) expect(report.paths[path], path).toBeGreaterThan(0);
    expect(report.kills).toBe(3);
    expect(report.rpc.requests).toBeGreaterThan(0);
    expect(report.reconciliation.drift).toBe(0);
    expect(report.webhooks.deliveries).toBeGreaterThan(0);
    expect(report.webhooks.delivered + report.webhooks.failed).toBe(report.webhooks.deliveries);
  }, 900_000);
});
