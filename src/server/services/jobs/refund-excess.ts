import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { AppError } from "~/server/errors";
import { sendTransferNow } from "~/server/services/transfers/send-transfer-now";
import { formatUsdc } from "~/server/money";
import { assertBuyer, lockJob, recordJobEvent } from "./job-state";

/** Returns what a buyer deposited beyond the price (G22), once. */
export async function refundExcess({ db, chain, actor, jobId }: { db: Db; chain: ChainClient; actor: { agentId: string }; jobId: string }) {
  const transfer = await db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "recover its excess deposit");
    if (job.depositAmount === null) throw new AppError("NO_EXCESS", "Job was never funded");
    const excess = job.depositAmount - job.price;
    if (excess <= 0n) throw new AppError("NO_EXCESS", `The deposit of ${formatUsdc(job.depositAmount)} USDC is not more than the price`);
    const existing = await tx.transfer.findFirst({ where: { jobId, kind: { in: ["excess_refund", "refund"] } } });
    if (existing) {
      // A full refund already returned the whole deposit, excess included.
      const what = existing.kind === "refund" ? "The deposit has already been refunded" : "The excess has already been returned";
      throw new AppError("ALREADY_REFUNDED", what, { tx_hash: existing.txHash, status: existing.status });
    }
    const buyer = await tx.agent.findUniqueOrThrow({ where: { id: job.buyerId } });
    const to = job.depositFrom ?? buyer.walletAddress;
    await tx.job.update({ where: { id: jobId }, data: { excessRefundedAt: new Date() } });
    await recordJobEvent(tx, jobId, "excess_refund_requested", { actor: actor.agentId, data: { amount: excess.toString() } });
    return tx.transfer.create({
      data: { jobId, kind: "excess_refund", idempotencyKey: `excess:${jobId}`, agentId: buyer.id, toAddress: to, amount: excess, status: to ? "pending" : "skipped" },
    });
  });
  return sendTransferNow({ db, chain, transferId: transfer.id });
}
