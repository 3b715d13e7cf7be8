import type { Db, DbTx } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { getEnv } from "~/env";
import { AppError } from "~/server/errors";
import { lockJob, recordJobEvent } from "~/server/services/jobs/job-state";
import { resetForResend } from "./retry-failed-transfer";
import { sendTransferNow } from "./send-transfer-now";

/**
 * An admin sends a job's stuck money again (G06): transfers that reverted on chain (`failed`:
 * nothing moved, the nonce is spent, so a new signature is safe) and payouts `skipped` because
 * the worker had no wallet, once they have added one. Each goes back to pending under the job's
 * lock, with the event log saying who asked, and is sent through the same recorded path as the
 * first attempt. A transfer that is pending or sent is left to the sweep: sending it again could
 * pay twice.
 */
export async function retryTransfers({ db, chain, actor, jobId }: { db: Db; chain: ChainClient; actor: { id: string }; jobId: string }) {
  const retried = await db.$transaction(async (tx) => {
    await lockJob(tx, jobId);
    const stuck = await tx.transfer.findMany({ where: { jobId, status: { in: ["failed", "skipped"] } }, orderBy: { createdAt: "asc" } });
    if (stuck.length === 0) {
      throw new AppError("NOTHING_TO_RETRY", "This job has no failed or skipped transfer to send again");
    }
    const walletless: string[] = [];
    const ready: string[] = [];
    for (const transfer of stuck) {
      const toAddress = await currentRecipient(tx, transfer);
      if (!toAddress) {
        walletless.push(transfer.agentId ?? transfer.id);
        continue;
      }
      await resetForResend(tx, transfer, { toAddress, automatic: false });
      ready.push(transfer.id);
    }
    if (ready.length === 0) {
      throw new AppError("WALLET_REQUIRED", `Still no wallet address for ${walletless.join(", ")}; they can add one with PATCH /agents/{agent_id}`, { agent_ids: walletless });
    }
    await recordJobEvent(tx, jobId, "transfers_retried", { actor: actor.id, data: { transfer_ids: ready, still_without_wallet: walletless } });
    return ready;
  });
  for (const transferId of retried) await sendTransferNow({ db, chain, transferId });
  return db.transfer.findMany({ where: { jobId }, orderBy: { createdAt: "asc" } });
}

type TransferRow = Awaited<ReturnType<DbTx["transfer"]["findMany"]>>[number];

/** Where a transfer should go now: a payout to the worker's wallet as it is today. */
async function currentRecipient(tx: DbTx, transfer: TransferRow): Promise<string | null> {
  if (transfer.kind === "fee") return transfer.toAddress ?? getEnv().TREASURY_ADDRESS;
  if (transfer.toAddress) return transfer.toAddress;
  if (!transfer.agentId) return null;
  const agent = await tx.agent.findUnique({ where: { id: transfer.agentId }, select: { walletAddress: true } });
  return agent?.walletAddress ?? null;
}
