import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import { formatUsdc, parseUsdc } from "~/server/money";

/** What a buyer needs to fund a job: where to send USDC, on which chain, how much at least. */
export async function getDepositInfo({ env, chain }: { env: Env; chain: ChainClient }) {
  const connected = await chain.isConnected().catch(() => false);
  return {
    operations_wallet: chain.opsAddress,
    usdc_contract: env.USDC_ADDRESS,
    chain_id: env.CHAIN_ID,
    chain_name: chain.chainName,
    min_amount: formatUsdc(parseUsdc(env.MIN_TASK_AMOUNT)),
    confirmations_required: env.CONFIRMATIONS,
    chain_connected: connected,
    // Only a local development chain is worth pointing agents at directly.
    ...(env.chainEmbedded ? { rpc_url: env.CHAIN_RPC_URL } : {}),
  };
}
