import { getEnv } from "~/env";
import { getChain } from "~/server/chain/chain";
import { getDb } from "~/server/db";
import { defineBackgroundFunction } from "~/server/jobs/define";
import { recordReconciliationRun } from "~/server/services/reconciliation/record-reconciliation-run";

/** The scheduled reconciliation: one recorded run per slot; a run that cannot reach the chain is recorded as an error, not retried. */
export const reconcileFunction = defineBackgroundFunction({
  key: "reconcile",
  maxAttempts: 1,
  concurrency: 1,
  timeoutSeconds: 600,
  async handler({ step }) {
    return step.run("reconcile", async () => {
      const { run } = await recordReconciliationRun({ db: getDb(), chain: getChain(), env: getEnv(), trigger: "schedule" });
      return { runId: run.id, outcome: run.outcome, driftCount: run.driftCount, alerted: run.alertedAt !== null };
    });
  },
});
