import { getAddress, isAddress, type Address } from "viem";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { mintTestUsdc } from "~/server/chain/deploy-test-usdc";
import { parseUsdc } from "~/server/money";

const MAX_FAUCET_USDC = parseUsdc("1000000");
let queue: Promise<unknown> = Promise.resolve();

/** Mints test USDC on the embedded local chain; refused anywhere else. */
export async function mintFromFaucet({ env, address, amount }: { env: Env; address: string; amount: string | number }) {
  if (!env.chainEmbedded || !env.FAUCET_PRIVATE_KEY) {
    throw new AppError("NOT_IN_DEV_MODE", "The faucet only exists on the embedded local chain");
  }
  if (!isAddress(address, { strict: false })) throw new AppError("INVALID_WALLET", `address: '${address}' is not a valid 0x address`, { field: "address" });
  let baseUnits: bigint;
  try {
    baseUnits = parseUsdc(amount);
  } catch (err) {
    throw new AppError("VALIDATION_FAILED", `amount: ${(err as Error).message}`, { field: "amount" });
  }
  if (baseUnits <= 0n || baseUnits > MAX_FAUCET_USDC) throw new AppError("VALIDATION_FAILED", "amount: must be between 0.000001 and 1000000", { field: "amount" });
  const to = getAddress(address) as Address;
  // One mint at a time: the faucet key's nonces must not collide.
  const minted = queue.then(() =>
    mintTestUsdc({ rpcUrl: env.CHAIN_RPC_URL, usdcAddress: env.USDC_ADDRESS as Address, minterPrivateKey: env.FAUCET_PRIVATE_KEY as `0x${string}`, to, amount: baseUnits }),
  );
  queue = minted.catch(() => undefined);
  const txHash = await minted;
  return { tx_hash: txHash, address: to, amount: String(amount) };
}
