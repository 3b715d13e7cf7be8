import { log } from "~/server/log";
import type { Hex } from "viem";
import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { BroadcastRefusedError, feeCapsOf } from "~/server/chain/chain-client";
import { enqueueSafely } from "~/server/jobs/client";
import { broadcastStored, NONCE_LOCK_KEY, type TransferRow } from "./send-transfer";

// Nonces looked at per run; a longer gap is worked through by the next runs.
const MAX_NONCES_PER_RUN = 256;

export interface NonceRepair {
  /** The chain's count of mined transactions from the operations wallet when the repair began. */
  minedNonce: number;
  /** Transfers broadcast again (still unmined, or lost by the chain after we saw them final). */
  rebroadcast: string[];
  /** Nonces nothing held, now taken by a zero-value filler. */
  filled: number[];
}

/**
 * The operations wallet's transactions run in nonce order, so one nonce the chain never executes
 * blocks every transfer after it. Every nonce from the chain's mined count to the highest we
 * recorded must hold bytes the chain can execute, and this makes it so (the sweep runs it every
 * minute and at start-up, and a transfer waiting behind an unmined nonce runs it):
 * - a transfer we recorded final (`success`, `failed`) whose nonce the chain has not executed:
 *   the chain lost it (a reorganisation deeper than CONFIRMATIONS, a dev chain that died). Its
 *   bytes never ran, so it goes back to `sent` and is broadcast again;
 * - a transfer still `sent`: broadcast again (replaced with higher fees if refused as underpriced);
 * - a nonce no transfer holds (e.g. the old nonce of a failed transfer that was retried with a
 *   new one): a zero-value transaction to ourselves takes it. Never the old transfer's bytes: that
 *   transfer has been sent again and must not be paid twice.
 */
export async function repairNonceGaps({ db, chain }: { db: Db; chain: ChainClient }): Promise<NonceRepair> {
  const plan = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${NONCE_LOCK_KEY})`;
    // The records first, the chain after: the chain's count only grows, so a transfer mined and
    // recorded final while this runs is counted as executed, never mistaken for one the chain lost.
    const floor = await chain.getMinedNonce();
    const limit = floor + MAX_NONCES_PER_RUN;
    const transfers = await tx.transfer.findMany({ where: { nonce: { gte: floor, lt: limit } }, orderBy: { nonce: "asc" } });
    const fillers = await tx.nonceFiller.findMany({ where: { nonce: { gte: floor, lt: limit } }, orderBy: { nonce: "asc" } });
    const minedNonce = await chain.getMinedNonce();
    await tx.nonceFiller.updateMany({ where: { nonce: { lt: minedNonce }, confirmedAt: null }, data: { confirmedAt: new Date() } });
    const highest = Math.max(-1, ...transfers.map((t) => t.nonce!), ...fillers.map((f) => f.nonce));
    const byNonce = new Map<number, { transfer?: TransferRow; filler?: (typeof fillers)[number] }>();
    for (const t of transfers) byNonce.set(t.nonce!, { transfer: t });
    for (const f of fillers) byNonce.set(f.nonce, { filler: f });
    const steps: Array<{ transfer: TransferRow } | { filler: (typeof fillers)[number] }> = [];
    const filled: number[] = [];
    for (let nonce = minedNonce; nonce <= highest; nonce++) {
      const held = byNonce.get(nonce);
      if (held?.transfer) {
        let transfer = held.transfer;
        if (transfer.status === "success" || transfer.status === "failed") {
          log.error("the chain has not executed a transfer recorded final; broadcasting it again", { transferId: transfer.id, nonce, status: transfer.status, txHash: transfer.txHash });
          transfer = await tx.transfer.update({
            where: { id: transfer.id },
            data: { status: "sent", blockNumber: null, confirmedAt: null, error: `the chain lost this ${transfer.status === "success" ? "confirmed" : "reverted"} transaction; sent again with the same nonce` },
          });
        }
        steps.push({ transfer });
      } else if (held?.filler) {
        steps.push({ filler: held.filler });
      } else {
        const { signedTx, txHash } = await chain.signNonceFiller({ nonce });
        steps.push({ filler: await tx.nonceFiller.create({ data: { nonce, signedTx, txHash } }) });
        filled.push(nonce);
      }
    }
    return { steps, filled, minedNonce };
  });

  const rebroadcast: string[] = [];
  // In nonce order: each one lets the next be mined.
  for (const step of plan.steps) {
    try {
      if ("transfer" in step) {
        await broadcastStored(db, chain, step.transfer);
        rebroadcast.push(step.transfer.id);
        // Followed to finality by the runner, like any sent transfer.
        await enqueueSafely("sendTransfer", { transferId: step.transfer.id }, { singletonKey: step.transfer.id });
      } else {
        await broadcastFiller(db, chain, step.filler);
      }
    } catch (err) {
      log.warn("nonce repair: broadcast failed; the next run tries again", { nonce: "transfer" in step ? step.transfer.nonce : step.filler.nonce, error: String(err) });
    }
  }
  if (plan.filled.length > 0) log.warn("filled nonce gaps of the operations wallet", { nonces: plan.filled });
  return { minedNonce: plan.minedNonce, rebroadcast, filled: plan.filled };
}

async function broadcastFiller(db: Db, chain: ChainClient, filler: { nonce: number; signedTx: string }): Promise<void> {
  try {
    await chain.broadcastSignedTx(filler.signedTx as Hex);
  } catch (err) {
    if (!(err instanceof BroadcastRefusedError)) throw err;
    // Taken meanwhile: the gap is closed, whatever closed it.
    if (err.reason === "nonce_used") return;
    const { signedTx, txHash } = await chain.signNonceFiller({ nonce: filler.nonce, outbid: feeCapsOf(filler.signedTx as Hex) });
    await db.nonceFiller.update({ where: { nonce: filler.nonce }, data: { signedTx, txHash } });
    await chain.broadcastSignedTx(signedTx);
  }
}
