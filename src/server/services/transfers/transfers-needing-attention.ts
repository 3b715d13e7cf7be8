import type { Db } from "~/server/db";
import type { TransferStatus } from "~/generated/prisma/client";

export const ATTENTION_KINDS = ["failed", "waiting_for_funds", "skipped", "stuck"] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/**
 * Money that has not moved and may need a person: reverted transfers (with their next automatic
 * retry, or given up on), transfers waiting for the operations wallet to be topped up, payouts
 * skipped for want of a wallet, and transfers still not final TRANSFER_STUCK_AFTER_SECONDS after
 * they were recorded. Oldest first, each with its reason (`error`).
 */
export async function listTransfersNeedingAttention({
  db,
  kind,
  stuckAfterSeconds,
  limit,
  offset,
}: {
  db: Db;
  kind?: AttentionKind;
  stuckAfterSeconds: number;
  limit: number;
  offset: number;
}) {
  const stuckBefore = new Date(Date.now() - stuckAfterSeconds * 1_000);
  const stuck = { status: { in: ["pending", "sent"] as TransferStatus[] }, createdAt: { lt: stuckBefore } };
  const byKind = {
    failed: { status: "failed" as const },
    waiting_for_funds: { status: "waiting_for_funds" as const },
    skipped: { status: "skipped" as const },
    stuck,
  };
  const where = kind ? byKind[kind] : { OR: Object.values(byKind) };
  const [transfers, total] = await Promise.all([
    db.transfer.findMany({ where, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take: limit, skip: offset }),
    db.transfer.count({ where }),
  ]);
  return {
    transfers: transfers.map((t) => ({ ...t, attention: (t.status === "pending" || t.status === "sent" ? "stuck" : t.status) as AttentionKind })),
    total,
  };
}
