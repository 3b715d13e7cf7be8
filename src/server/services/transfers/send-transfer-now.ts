import { log } from "~/server/log";
import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { enqueueSafely } from "~/server/jobs/client";
import { sendTransfer, type TransferRow } from "./send-transfer";

// Long enough for a receipt and a few confirmations on a local chain; a request never waits longer.
const INLINE_WAIT_MS = 20_000;

/**
 * Sends a recorded transfer inside the request that asked for it (a buyer's refund, an admin's
 * retry), so the answer can carry its hash and usually its outcome. Whatever is not final when
 * the request stops waiting (or could not be sent at all) is handed to the background runner,
 * which follows it until it is; the sweep is the net behind that.
 */
export async function sendTransferNow({ db, chain, transferId }: { db: Db; chain: ChainClient; transferId: string }): Promise<TransferRow> {
  let transfer: TransferRow;
  try {
    transfer = await sendTransfer({ db, chain, transferId, waitMs: INLINE_WAIT_MS });
  } catch (err) {
    log.warn("transfer could not be sent inline; queued for the background runner", { transferId, error: String(err) });
    transfer = await db.transfer.findUniqueOrThrow({ where: { id: transferId } });
  }
  if (transfer.status === "pending" || transfer.status === "sent") await enqueueSafely("sendTransfer", { transferId }, { singletonKey: transferId });
  return transfer;
}
