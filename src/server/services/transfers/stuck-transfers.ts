import type { Db } from "~/server/db";

export interface StuckTransfers {
  /** Transfers not final this long after they were recorded (pending or sent). */
  count: number;
  amount: bigint;
  /** Of those, broadcast but not seen in any block: waiting in a mempool, or lost. */
  unmined: number;
  /** Of those, mined but not yet CONFIRMATIONS blocks deep. */
  awaitingConfirmations: number;
  oldestAgeSeconds: number | null;
}

/**
 * Money that should have moved by now and has not: what /health and solvency report. A transfer
 * is stuck when it is still pending or sent TRANSFER_STUCK_AFTER_SECONDS after it was recorded.
 */
export async function findStuckTransfers({ db, stuckAfterSeconds }: { db: Db; stuckAfterSeconds: number }): Promise<StuckTransfers> {
  const [row] = await db.$queryRaw<{ count: bigint; amount: bigint | null; unmined: bigint; awaiting: bigint; oldest: Date | null }[]>`
    SELECT count(*) AS count, SUM(amount)::bigint AS amount,
           count(*) FILTER (WHERE status = 'pending' OR (status = 'sent' AND block_number IS NULL)) AS unmined,
           count(*) FILTER (WHERE status = 'sent' AND block_number IS NOT NULL) AS awaiting,
           MIN(created_at) AS oldest
    FROM transfers
    WHERE status IN ('pending', 'sent') AND created_at < now() AT TIME ZONE 'UTC' - make_interval(secs => ${stuckAfterSeconds})`;
  const oldest = row?.oldest ?? null;
  return {
    count: Number(row?.count ?? 0),
    amount: row?.amount ?? 0n,
    unmined: Number(row?.unmined ?? 0),
    awaitingConfirmations: Number(row?.awaiting ?? 0),
    oldestAgeSeconds: oldest ? Math.max(0, Math.round((Date.now() - oldest.getTime()) / 1_000)) : null,
  };
}

/** "2 transfers not final after 300 s (1 unmined, 1 awaiting confirmations; oldest 512 s)". */
export function describeStuckTransfers(stuck: StuckTransfers, stuckAfterSeconds: number): string {
  if (stuck.count === 0) return `no transfer unfinished after ${stuckAfterSeconds} s`;
  return `${stuck.count} transfer${stuck.count === 1 ? "" : "s"} not final after ${stuckAfterSeconds} s (${stuck.unmined} unmined, ${stuck.awaitingConfirmations} awaiting confirmations; oldest ${stuck.oldestAgeSeconds} s)`;
}
