import {
  BaseError,
  createPublicClient,
  defineChain,
  encodeFunctionData,
  getAddress,
  http,
  isAddressEqual,
  keccak256,
  parseEventLogs,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
  type Address,
  type Chain,
  type Hash,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { base, baseSepolia } from "viem/chains";
import { usdcAbi } from "./usdc-contract";

export interface ChainClientConfig {
  rpcUrl: string;
  chainId: number;
  usdcAddress: Address;
  opsPrivateKey: Hex;
  /**
   * Gas limit put into signed USDC transfers. A fixed limit (rather than an estimate) keeps
   * signing independent of the chain's current state, e.g. the ops balance before earlier
   * payouts land. Real USDC on Base uses roughly 40k–65k.
   */
  transferGasLimit?: bigint;
  /** How often waitForTransferReceipt polls. Defaults to 100 ms on 31337, else 1 s. */
  pollingIntervalMs?: number;
}

export type DepositInspection =
  | { found: false }
  | {
      found: true;
      succeeded: boolean;
      blockNumber: bigint;
      confirmations: number;
      /** Sum of USDC Transfer logs (from the configured USDC contract only) whose `to` is the ops address. */
      transfersToOps: bigint;
      /** Sender of those transfers; null when there are none or they come from more than one address. */
      from: Address | null;
    };

export type TransferReceipt = { status: "success" | "reverted" };

const DEFAULT_TRANSFER_GAS_LIMIT = 100_000n;
const CONNECTIVITY_TIMEOUT_MS = 2_000;

const KNOWN_CHAINS: Record<number, Chain> = {
  [base.id]: base,
  [baseSepolia.id]: baseSepolia,
};

export function chainNameForId(chainId: number): string {
  if (chainId === 31337) return "Anvil (local)";
  return KNOWN_CHAINS[chainId]?.name ?? `chain ${chainId}`;
}

function chainForId(chainId: number, rpcUrl: string): Chain {
  const known = KNOWN_CHAINS[chainId];
  if (known) return known;
  return defineChain({
    id: chainId,
    name: chainNameForId(chainId),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export type ChainClient = ReturnType<typeof createChainClient>;

export function createChainClient(config: ChainClientConfig) {
  const chain = chainForId(config.chainId, config.rpcUrl);
  const usdcAddress = getAddress(config.usdcAddress);
  const opsAccount = privateKeyToAccount(config.opsPrivateKey);
  const opsAddress = opsAccount.address;
  const transferGasLimit = config.transferGasLimit ?? DEFAULT_TRANSFER_GAS_LIMIT;
  const pollingIntervalMs = config.pollingIntervalMs ?? (config.chainId === 31337 ? 100 : 1_000);

  const publicClient = createPublicClient({
    chain,
    transport: http(config.rpcUrl),
    pollingInterval: pollingIntervalMs,
  });
  // The main transport retries with backoff for up to ~10 s; a health probe must answer fast.
  const probeClient = createPublicClient({
    chain,
    transport: http(config.rpcUrl, { timeout: CONNECTIVITY_TIMEOUT_MS, retryCount: 0 }),
  });

  async function getReceiptOrNull(txHash: Hash) {
    try {
      return await publicClient.getTransactionReceipt({ hash: txHash });
    } catch (error) {
      // Unknown and not-yet-mined transactions look the same: no receipt.
      if (error instanceof TransactionReceiptNotFoundError) return null;
      throw error;
    }
  }

  async function inspectDeposit(txHash: Hash): Promise<DepositInspection> {
    const receipt = await getReceiptOrNull(txHash);
    if (!receipt) return { found: false };

    // Only logs emitted by the USDC contract count: any contract can emit a "Transfer" event.
    const usdcLogs = receipt.logs.filter((log) => isAddressEqual(log.address, usdcAddress));
    const transfersToOps = parseEventLogs({ abi: usdcAbi, eventName: "Transfer", logs: usdcLogs }).filter(
      (log) => isAddressEqual(log.args.to, opsAddress),
    );
    const transferredAmount = transfersToOps.reduce((sum, log) => sum + log.args.value, 0n);
    const senders = new Set(transfersToOps.map((log) => getAddress(log.args.from)));
    const [onlySender] = senders;

    // Cached block numbers (viem keeps them ~4 s by default) would undercount confirmations.
    const latestBlockNumber = await publicClient.getBlockNumber({ cacheTime: 0 });
    const confirmations = latestBlockNumber >= receipt.blockNumber ? Number(latestBlockNumber - receipt.blockNumber + 1n) : 0;

    return {
      found: true,
      succeeded: receipt.status === "success",
      blockNumber: receipt.blockNumber,
      confirmations,
      transfersToOps: transferredAmount,
      from: senders.size === 1 && onlySender ? onlySender : null,
    };
  }

  async function signUsdcTransfer(params: {
    to: Address;
    amount: bigint;
    nonce: number;
  }): Promise<{ signedTx: Hex; txHash: Hash }> {
    if (params.amount <= 0n) throw new Error(`USDC transfer amount must be positive, got ${params.amount}`);
    const fees = await publicClient.estimateFeesPerGas({ type: "eip1559" });
    const signedTx = await opsAccount.signTransaction(
      {
        type: "eip1559",
        chainId: config.chainId,
        nonce: params.nonce,
        to: usdcAddress,
        value: 0n,
        data: encodeFunctionData({ abi: usdcAbi, functionName: "transfer", args: [getAddress(params.to), params.amount] }),
        gas: transferGasLimit,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      },
      { serializer: chain.serializers?.transaction },
    );
    return { signedTx, txHash: keccak256(signedTx) };
  }

  async function isTransactionKnown(txHash: Hash): Promise<boolean> {
    try {
      await publicClient.getTransaction({ hash: txHash });
      return true;
    } catch (error) {
      if (error instanceof TransactionNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Sends a signed transaction. Safe to call again with the same bytes (after a crash, a
   * timeout, a restart): if the node already has it pending or mined, this returns its hash
   * instead of failing, and the chain executes it only once because the nonce is fixed.
   */
  async function broadcastSignedTx(signedTx: Hex): Promise<Hash> {
    const txHash = keccak256(signedTx);
    try {
      return await publicClient.sendRawTransaction({ serializedTransaction: signedTx });
    } catch (error) {
      const message = errorText(error);
      if (ALREADY_KNOWN_PATTERN.test(message)) return txHash;
      // Once mined, the same bytes are rejected for their used nonce. That is success only if
      // this very transaction used it; a different transaction with the same nonce means the
      // payout never happened, and the caller must hear about it.
      if (NONCE_TOO_LOW_PATTERN.test(message) && (await isTransactionKnown(txHash))) return txHash;
      throw error;
    }
  }

  async function getTransferReceipt(txHash: Hash): Promise<TransferReceipt | null> {
    const receipt = await getReceiptOrNull(txHash);
    return receipt ? { status: receipt.status } : null;
  }

  /** Polls until the transaction is mined; null when timeoutMs passes first. */
  async function waitForTransferReceipt(txHash: Hash, timeoutMs: number): Promise<TransferReceipt | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const receipt = await getTransferReceipt(txHash);
      if (receipt) return receipt;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return null;
      await sleep(Math.min(pollingIntervalMs, remainingMs));
    }
  }

  async function getPendingNonce(): Promise<number> {
    return publicClient.getTransactionCount({ address: opsAddress, blockTag: "pending" });
  }

  async function getUsdcBalance(address: Address): Promise<bigint> {
    return publicClient.readContract({
      address: usdcAddress,
      abi: usdcAbi,
      functionName: "balanceOf",
      args: [address],
    });
  }

  /** True when the RPC answers eth_chainId within ~2 s (whatever chain id it reports). */
  async function isConnected(): Promise<boolean> {
    try {
      await probeClient.getChainId();
      return true;
    } catch {
      return false;
    }
  }

  return {
    publicClient,
    opsAddress,
    usdcAddress,
    chainId: config.chainId,
    chainName: chainNameForId(config.chainId),
    inspectDeposit,
    signUsdcTransfer,
    broadcastSignedTx,
    getTransferReceipt,
    waitForTransferReceipt,
    getPendingNonce,
    getUsdcBalance,
    isConnected,
  };
}

// Wording differs per client: geth "already known", Nethermind "AlreadyKnown", Erigon/older
// geth "known transaction", anvil/reth "transaction already imported"/"already known".
const ALREADY_KNOWN_PATTERN = /already known|alreadyknown|known transaction|already imported|already in (the )?(mem|tx)pool|transaction already exists/i;
const NONCE_TOO_LOW_PATTERN = /nonce too low|nonce is too low|oldnonce|nonce has already been used|invalid nonce/i;

function errorText(error: unknown): string {
  if (error instanceof BaseError) {
    const parts: string[] = [];
    error.walk((inner) => {
      if (inner instanceof BaseError) parts.push(inner.shortMessage, inner.details);
      else if (inner instanceof Error) parts.push(inner.message);
      return false;
    });
    return parts.join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
