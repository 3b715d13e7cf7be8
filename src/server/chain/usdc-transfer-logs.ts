import { getAddress, type Address, type Hash } from "viem";
import type { ChainClient } from "./chain";
import { usdcAbi } from "./usdc-contract";

/** One USDC `Transfer` log that touches the operations wallet. */
export interface UsdcTransferLog {
  txHash: Hash;
  logIndex: number;
  blockNumber: bigint;
  from: Address;
  to: Address;
  value: bigint;
}

export interface OpsWalletTransfers {
  /** Transfers whose `to` is the operations wallet, in chain order. */
  incoming: UsdcTransferLog[];
  /** Transfers whose `from` is the operations wallet, in chain order. */
  outgoing: UsdcTransferLog[];
  /** eth_getLogs requests made (a range the node refused as too large is split and counted again). */
  requests: number;
}

// What nodes say when a range holds too many logs or spans too many blocks (geth, Alchemy,
// Infura, QuickNode, Base's public RPC, anvil): such a range is split in two and asked again.
const RANGE_TOO_LARGE = /range|too many|limit|exceed|10,?000|query returned more than|response size|block range/i;

/**
 * Every USDC Transfer log to or from the operations wallet in [fromBlock, toBlock], read in
 * ranges of `chunkBlocks` blocks (two filtered requests per range, `to` and `from` being indexed
 * topics), from the configured USDC contract only. The cost depends on the length of the chain
 * scanned, never on the number of jobs.
 */
export async function readOpsWalletTransfers({
  chain,
  fromBlock,
  toBlock,
  chunkBlocks,
}: {
  chain: ChainClient;
  fromBlock: bigint;
  toBlock: bigint;
  chunkBlocks: number;
}): Promise<OpsWalletTransfers> {
  const result: OpsWalletTransfers = { incoming: [], outgoing: [], requests: 0 };
  const step = BigInt(Math.max(1, chunkBlocks));
  for (let start = fromBlock; start <= toBlock; start += step) {
    const end = start + step - 1n < toBlock ? start + step - 1n : toBlock;
    const [incoming, outgoing] = await Promise.all([
      readRange(chain, { to: chain.opsAddress }, start, end, result),
      readRange(chain, { from: chain.opsAddress }, start, end, result),
    ]);
    result.incoming.push(...incoming);
    result.outgoing.push(...outgoing);
  }
  return result;
}

async function readRange(
  chain: ChainClient,
  args: { from: Address } | { to: Address },
  fromBlock: bigint,
  toBlock: bigint,
  counter: { requests: number },
): Promise<UsdcTransferLog[]> {
  counter.requests++;
  try {
    const logs = await chain.publicClient.getContractEvents({ address: chain.usdcAddress, abi: usdcAbi, eventName: "Transfer", args, fromBlock, toBlock, strict: true });
    return logs
      .filter((log) => log.blockNumber !== null && log.transactionHash !== null && log.logIndex !== null)
      .map((log) => ({
        txHash: log.transactionHash!,
        logIndex: log.logIndex!,
        blockNumber: log.blockNumber!,
        from: getAddress(log.args.from),
        to: getAddress(log.args.to),
        value: log.args.value,
      }));
  } catch (error) {
    if (toBlock <= fromBlock || !RANGE_TOO_LARGE.test(error instanceof Error ? error.message : String(error))) throw error;
    const middle = fromBlock + (toBlock - fromBlock) / 2n;
    return [...(await readRange(chain, args, fromBlock, middle, counter)), ...(await readRange(chain, args, middle + 1n, toBlock, counter))];
  }
}

/**
 * The USDC the operations wallet held at the end of `blockNumber`: needs the node to answer
 * eth_call at that block (an archive node, or a recent enough block). Before the USDC contract
 * existed it held nothing.
 */
export async function readOpsUsdcBalanceAt(chain: ChainClient, blockNumber: bigint): Promise<bigint> {
  try {
    return await chain.publicClient.readContract({ address: chain.usdcAddress, abi: usdcAbi, functionName: "balanceOf", args: [chain.opsAddress], blockNumber });
  } catch (error) {
    const code = await chain.publicClient.getCode({ address: chain.usdcAddress, blockNumber }).catch(() => "unknown");
    if (code === undefined || code === "0x") return 0n;
    throw error;
  }
}

/** Block timestamps (unix seconds) for a few blocks, one request each. */
export async function readBlockTimestamps(chain: ChainClient, blockNumbers: bigint[]): Promise<Map<bigint, number>> {
  const out = new Map<bigint, number>();
  for (const blockNumber of new Set(blockNumbers)) {
    const block = await chain.publicClient.getBlock({ blockNumber });
    out.set(blockNumber, Number(block.timestamp));
  }
  return out;
}

/** The block a transaction was mined in and whether it succeeded; null when the chain does not know it. */
export async function readDepositReceipt(chain: ChainClient, txHash: Hash): Promise<{ blockNumber: bigint; succeeded: boolean } | null> {
  const receipt = await chain.getTransferReceipt(txHash);
  return receipt ? { blockNumber: receipt.blockNumber, succeeded: receipt.status === "success" } : null;
}
