import { log } from "~/server/log";
import { getDb } from "~/server/db";
import { getChain } from "~/server/chain/chain";
import { enqueueSafely } from "~/server/jobs/client";
import { defineBackgroundFunction } from "~/server/jobs/define";
import { getEnv } from "~/env";
import { expireDueJobs, refundExpiredJobs } from "~/server/services/jobs/expire-jobs";
import { escalateOverdueReviews } from "~/server/services/submissions/review-queue";
import { judgingDeadlineSettings } from "~/server/services/submissions/judging-deadline";
import { deleteExpiredIdempotencyKeys } from "~/server/services/idempotency/with-idempotency";
import { publishJobEvents } from "~/server/services/events/publish-job-events";
import { enqueueOverdueDeliveries } from "~/server/services/webhooks/deliver-webhook";
import { repairNonceGaps } from "~/server/services/transfers/repair-nonce-gaps";
import { retryDueTransfers } from "~/server/services/transfers/retry-failed-transfer";
import { releaseNextWaitingTransfer } from "~/server/services/transfers/send-transfer";
import { getSqlPool } from "~/server/db-sql";
import { dropDeadWorkLeases } from "~/server/jobs/work-leases";

const STALE_AFTER_MS = 15_000;

/**
 * The safety net behind every "enqueue after commit": finds work that the database says is
 * unfinished (judging submissions, unsent transfers) and queues it again; also keeps the
 * deadlines: moves due jobs to expired, sends overdue reviews to the admin queue and refunds
 * expired jobs that have nothing left to judge. Runs every minute and once when a runner starts
 * (crash recovery).
 */
export async function sweepUnfinishedWork({ staleAfterMs = STALE_AFTER_MS }: { staleAfterMs?: number } = {}) {
  const db = getDb();
  const staleBefore = new Date(Date.now() - staleAfterMs);
  const expired = await expireDueJobs({ db });
  const reviewsEscalated = await escalateOverdueReviews({ db, settings: judgingDeadlineSettings(getEnv()) });
  const refunds = await refundExpiredJobs({ db });
  for (const r of refunds) if (r.status === "pending") await enqueueSafely("sendTransfer", { transferId: r.transferId }, { singletonKey: r.transferId });
  const submissions = await db.submission.findMany({
    // Never evaluated (its enqueue was lost, or its worker died before recording anything);
    // those with steps are decided or waiting for a person.
    where: { status: "judging", createdAt: { lt: staleBefore }, oracleSteps: { equals: [] } },
    select: { id: true },
    take: 500,
  });
  for (const s of submissions) await enqueueSafely("evaluateSubmission", { submissionId: s.id }, { singletonKey: s.id });
  // Nonce gaps first: a transfer the chain lost, or a nonce nothing holds, blocks every later one.
  const nonces = await repairNonceGaps({ db, chain: getChain() }).catch((err: unknown) => {
    log.warn("nonce repair failed; the next sweep tries again", { error: String(err) });
    return null;
  });
  const transfers = await db.transfer.findMany({ where: { status: { in: ["pending", "sent"] }, updatedAt: { lt: staleBefore } }, select: { id: true }, take: 500 });
  for (const t of transfers) await enqueueSafely("sendTransfer", { transferId: t.id }, { singletonKey: t.id });
  // Reverted transfers whose automatic retry is due, and the oldest one waiting for funds.
  const retried = await retryDueTransfers({ db });
  for (const transferId of retried) await enqueueSafely("sendTransfer", { transferId }, { singletonKey: transferId });
  await releaseNextWaitingTransfer(db);
  // Webhooks and the event feed: events whose publication was not queued (a lost enqueue), and
  // deliveries whose queued attempt was lost (their new deliveries are queued as they commit).
  let dispatched = 0;
  for (let more = true, batches = 0; more && batches < 25; batches++) {
    const batch = await publishJobEvents({ db });
    dispatched += batch.deliveryIds.length;
    // Busy: another publication is running, and takes what had committed before it began.
    more = batch.more && !batch.busy;
  }
  const overdue = await enqueueOverdueDeliveries({ db, overdueBefore: staleBefore });
  const idempotencyKeys = await deleteExpiredIdempotencyKeys(db);
  const deadLeases = await dropDeadWorkLeases(getSqlPool());
  return { expired, reviewsEscalated, expiryRefunds: refunds.length, submissions: submissions.length, transfers: transfers.length, nonceGapsFilled: nonces?.filled.length ?? 0, transfersRetried: retried.length, transfersRebroadcast: nonces?.rebroadcast.length ?? 0, webhookDeliveries: dispatched + overdue, idempotencyKeys, deadLeases };
}

export const sweepFunction = defineBackgroundFunction({
  key: "sweep",
  maxAttempts: 1,
  concurrency: 1,
  async handler({ step }) {
    return step.run("sweep", () => sweepUnfinishedWork());
  },
});
