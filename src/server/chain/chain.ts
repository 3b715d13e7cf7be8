import type { Address } from "viem";
import { getEnv } from "~/env";
import { createChainClient } from "./chain-client";

export type ChainClient = ReturnType<typeof createChainClient>;

const globalForChain = globalThis as unknown as { __agentMarketChain?: ChainClient };

/** The process-wide chain client for the configured network and operations wallet. */
export function getChain(): ChainClient {
  if (!globalForChain.__agentMarketChain) {
    const env = getEnv();
    globalForChain.__agentMarketChain = createChainClient({
      rpcUrl: env.CHAIN_RPC_URL,
      chainId: env.CHAIN_ID,
      usdcAddress: env.USDC_ADDRESS as Address,
      opsPrivateKey: env.OPS_PRIVATE_KEY as `0x${string}`,
    });
  }
  return globalForChain.__agentMarketChain;
}

export function resetChain(): void {
  globalForChain.__agentMarketChain = undefined;
}
