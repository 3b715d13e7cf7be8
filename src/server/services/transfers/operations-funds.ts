import type { DbTx } from "~/server/db";
import type { ChainClient } from "~/server/chain/chain";
import { formatUsdc } from "~/server/money";

// Gas for this many transfers is the least the operations wallet should hold; below it /health
// and solvency say it is low.
export const LOW_GAS_TRANSFERS = 20;

export interface OperationsFunds {
  usdcBalance: bigint;
  ethBalance: bigint;
  /** Signed but not in the block the balances were read at: their USDC and gas are still in the wallet. */
  inFlight: { count: number; amount: bigint };
  /** The most one transfer's gas costs at today's fees. */
  gasPerTransfer: bigint;
}

/**
 * What the operations wallet holds now, and what is already promised out of it: signed
 * transfers whose nonce the block the balances come from has not reached (a transfer mined a
 * moment ago has left the balance, even if its receipt is not recorded yet).
 */
export async function readOperationsFunds({ tx, chain }: { tx: DbTx; chain: ChainClient }): Promise<OperationsFunds> {
  const [wallet, gasPerTransfer] = await Promise.all([chain.readOpsWalletAt(), chain.estimateTransferGasCost()]);
  const inFlight = await tx.transfer.aggregate({ where: { status: "sent", nonce: { gte: wallet.minedNonce } }, _count: true, _sum: { amount: true } });
  return { usdcBalance: wallet.usdc, ethBalance: wallet.eth, gasPerTransfer, inFlight: { count: inFlight._count, amount: inFlight._sum.amount ?? 0n } };
}

/**
 * Why the wallet cannot send `amount` now, or null when it can: its USDC less what in-flight
 * transfers will still take must cover the amount, and its ETH must pay the gas of those and of
 * this one. A transfer sent without cover would only revert and spend gas.
 */
export function shortfallFor(funds: OperationsFunds, amount: bigint): string | null {
  const usdcFree = funds.usdcBalance - funds.inFlight.amount;
  if (usdcFree < amount) {
    return `the operations wallet holds ${formatUsdc(funds.usdcBalance)} USDC, ${formatUsdc(funds.inFlight.amount)} of it already in flight; this transfer needs ${formatUsdc(amount)}`;
  }
  const gasNeeded = funds.gasPerTransfer * BigInt(funds.inFlight.count + 1);
  if (funds.ethBalance < gasNeeded) {
    return `the operations wallet holds ${funds.ethBalance} wei of ETH; gas for this transfer and the ${funds.inFlight.count} in flight needs up to ${gasNeeded}`;
  }
  return null;
}

/** True when the wallet's ETH pays fewer than LOW_GAS_TRANSFERS transfers at today's fees. */
export function isGasLow(funds: Pick<OperationsFunds, "ethBalance" | "gasPerTransfer">): boolean {
  return funds.ethBalance < funds.gasPerTransfer * BigInt(LOW_GAS_TRANSFERS);
}
