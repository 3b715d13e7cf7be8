import { createHash } from "node:crypto";
import type { Env } from "~/env";
import type { ReconciliationRun } from "~/generated/prisma/client";
import type { ChainClient } from "~/server/chain/chain";
import type { Db } from "~/server/db";
import { log } from "~/server/log";
import { MAX_LISTED_DIFFERENCES, toDifferenceDto, toReconciliationRunDto, toTotalsDto } from "~/server/api/dto-reconciliation";
import { queueAdminWebhookEvent } from "~/server/services/webhooks/admin-alerts";
import { reconcileBooks, reconciliationSettings, type Difference, type ReconciliationReport } from "./reconcile-books";

// Serialises "read the previous run, record this one" so two runs finishing together alert once.
const RUN_LOCK_KEY = 7_300_002;
// How many differences an alert's payload carries; the console has them all.
const DIFFERENCES_IN_ALERT = 20;

export type RunTrigger = "schedule" | "admin";

/**
 * The scheduled check (and an admin's "record a run now"): reconciles, records the run in
 * reconciliation_runs, and raises the admin alert when it finds drift that the previous run did
 * not (a different set of differences): a `reconciliation.drift` webhook event to admin agents;
 * the console's banner reads the latest run. A check that cannot run (the chain does not answer)
 * is recorded too, as outcome `error`.
 */
export async function recordReconciliationRun({ db, chain, env, trigger }: { db: Db; chain: ChainClient; env: Env; trigger: RunTrigger }): Promise<{ run: ReconciliationRun; report: ReconciliationReport | null }> {
  const startedAt = new Date();
  let report: ReconciliationReport;
  try {
    report = await reconcileBooks({ db, chain, settings: reconciliationSettings(env), now: startedAt });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 2_000);
    log.error("reconciliation could not run", { trigger, error: message });
    const run = await db.reconciliationRun.create({ data: { trigger, outcome: "error", startedAt, finishedAt: new Date(), error: message } });
    return { run, report: null };
  }

  const fingerprint = fingerprintOf(report.differences);
  const recorded = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${RUN_LOCK_KEY})`;
    const previous = await tx.reconciliationRun.findFirst({ where: { outcome: { in: ["clean", "drift"] } }, orderBy: { startedAt: "desc" }, select: { fingerprint: true } });
    const drift = report.differences.length > 0;
    const alert = drift && previous?.fingerprint !== fingerprint;
    const run = await tx.reconciliationRun.create({
      data: {
        trigger,
        outcome: drift ? "drift" : "clean",
        startedAt,
        finishedAt: new Date(),
        fromBlock: report.fromBlock,
        toBlock: report.toBlock,
        totals: toTotalsDto(report),
        jobStates: report.jobStates,
        driftCount: report.differences.length,
        differences: report.differences.slice(0, MAX_LISTED_DIFFERENCES).map(toDifferenceDto),
        fingerprint,
        alertedAt: alert ? new Date() : null,
      },
    });
    const queued = alert ? await queueAdminWebhookEvent({ tx, event: "reconciliation.drift", sourceId: run.id, payload: driftPayload(run) }) : null;
    return { run, queued };
  });
  if (recorded.queued) {
    log.error("reconciliation found drift: books and chain disagree", { runId: recorded.run.id, differences: report.differences.length, webhooks: recorded.queued.deliveryIds.length });
    await recorded.queued.send();
  } else if (report.differences.length > 0) {
    log.warn("reconciliation: the same drift as the previous run (no new alert)", { runId: recorded.run.id, differences: report.differences.length });
  }
  return { run: recorded.run, report };
}

/** What identifies a set of differences (not their amounts): the alert goes out when it changes. */
export function fingerprintOf(differences: Difference[]): string {
  const keys = differences.map((d) => [d.kind, d.jobId ?? "", d.transferId ?? "", d.txHash ?? "", d.logIndex ?? ""].join(":")).sort();
  return createHash("sha256").update(keys.join("\n")).digest("hex");
}

function driftPayload(run: ReconciliationRun) {
  const dto = toReconciliationRunDto(run);
  return {
    event: "reconciliation.drift",
    task_id: null,
    timestamp: dto.started_at,
    data: {
      run_id: dto.run_id,
      trigger: dto.trigger,
      drift_count: dto.drift_count,
      from_block: dto.from_block,
      to_block: dto.to_block,
      totals: dto.totals,
      job_states: dto.job_states,
      differences: dto.differences.slice(0, DIFFERENCES_IN_ALERT),
      console_path: "/admin/reconciliation",
    },
  };
}
