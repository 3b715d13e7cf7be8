import type { Address } from "viem";
import type { Db } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { findStuckTransfers, type StuckTransfers } from "~/server/services/transfers/stuck-transfers";
import { isGasLow, readOperationsFunds, LOW_GAS_TRANSFERS } from "~/server/services/transfers/operations-funds";

export interface Solvency {
  operationsWallet: string;
  usdcBalance: bigint;
  /** What the wallet still owes: every deposit less what has left the wallet for that job. */
  liabilities: bigint;
  jobsHoldingFunds: number;
  unsentTransfers: { count: number; amount: bigint };
  /** Not signed because the wallet cannot cover them; they go out oldest first once it can. */
  waitingForFunds: { count: number; amount: bigint };
  /** The wallet's ETH, what one transfer's gas may cost, and whether fewer than LOW_GAS_TRANSFERS are covered. */
  gas: { ethBalance: bigint; perTransfer: bigint; low: boolean; lowBelowTransfers: number };
  stuckTransfers: StuckTransfers;
  /** usdcBalance / liabilities to four decimals (the two amounts are exact); null when nothing is owed. */
  solvencyRatio: number | null;
  solvent: boolean;
  checkedAt: Date;
}

/**
 * Can the operations wallet pay what it owes (G21)? A job owes its deposit less the transfers
 * for it that succeeded on chain (payouts, fees, refunds); a job the platform paid extra on
 * (a dispute overturned after every share was paid) counts as owing nothing, not as a credit
 * against other jobs. Transfers not yet confirmed are still owed, and listed on their own.
 */
export async function getSolvency({ db, env, chain }: { db: Db; env: Env; chain: ChainClient }): Promise<Solvency> {
  const [owed] = await db.$queryRaw<{ liabilities: bigint | null; jobs: bigint }[]>`
    SELECT SUM(GREATEST(j.deposit_amount - COALESCE(paid.amount, 0), 0))::bigint AS liabilities,
           COUNT(*) FILTER (WHERE j.deposit_amount > COALESCE(paid.amount, 0)) AS jobs
    FROM jobs j
    LEFT JOIN (SELECT task_id, SUM(amount) AS amount FROM transfers WHERE status = 'success' GROUP BY task_id) paid ON paid.task_id = j.task_id
    WHERE j.deposit_amount IS NOT NULL`;
  const unsent = await db.transfer.aggregate({ where: { status: { in: ["pending", "waiting_for_funds", "sent", "failed", "skipped"] } }, _count: true, _sum: { amount: true } });
  const waiting = await db.transfer.aggregate({ where: { status: "waiting_for_funds" }, _count: true, _sum: { amount: true } });
  let usdcBalance: bigint;
  let funds: Awaited<ReturnType<typeof readOperationsFunds>>;
  try {
    funds = await readOperationsFunds({ tx: db, chain });
    usdcBalance = funds.usdcBalance;
  } catch (err) {
    throw new AppError("CHAIN_UNAVAILABLE", `Could not read the operations wallet's balance: ${(err as Error).message}`);
  }
  const liabilities = owed?.liabilities ?? 0n;
  return {
    operationsWallet: chain.opsAddress,
    usdcBalance,
    liabilities,
    jobsHoldingFunds: Number(owed?.jobs ?? 0),
    unsentTransfers: { count: unsent._count, amount: unsent._sum.amount ?? 0n },
    waitingForFunds: { count: waiting._count, amount: waiting._sum.amount ?? 0n },
    gas: { ethBalance: funds.ethBalance, perTransfer: funds.gasPerTransfer, low: isGasLow(funds), lowBelowTransfers: LOW_GAS_TRANSFERS },
    stuckTransfers: await findStuckTransfers({ db, stuckAfterSeconds: env.TRANSFER_STUCK_AFTER_SECONDS }),
    solvencyRatio: liabilities === 0n ? null : Number((usdcBalance * 10_000n + liabilities / 2n) / liabilities) / 10_000,
    solvent: usdcBalance >= liabilities,
    checkedAt: new Date(),
  };
}
