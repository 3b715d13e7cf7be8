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
  parseTransaction,
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

export type TransferReceipt = { status: "success" | "reverted"; blockNumber: bigint };

/** EIP-1559 fee caps of a signed transaction; a replacement must outbid them. */
export interface FeeCaps {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * The node refused signed bytes for good: `underpriced` (the fee cap is below the base fee, or
 * a replacement does not outbid what the pool holds) can only be cured by new bytes with higher
 * fees for the same nonce; `nonce_used` means another transaction took this nonce.
 */
export class BroadcastRefusedError extends Error {
  constructor(
    readonly reason: "underpriced" | "nonce_used",
    message: string,
  ) {
    super(message);
    this.name = "BroadcastRefusedError";
  }
}

// A replacement must beat the transaction it replaces by at least 10 % (geth's default price bump).
const REPLACEMENT_BUMP_PERCENT = 125n;

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

  /**
   * Fee caps for a new signature: the current estimate, and at least 25 % over `outbid` when the
   * bytes replace others with the same nonce.
   */
  async function feesFor(outbid?: FeeCaps): Promise<FeeCaps> {
    const estimate = await publicClient.estimateFeesPerGas({ type: "eip1559" });
    if (!outbid) return { maxFeePerGas: estimate.maxFeePerGas, maxPriorityFeePerGas: estimate.maxPriorityFeePerGas };
    const bump = (v: bigint) => (v * REPLACEMENT_BUMP_PERCENT) / 100n + 1n;
    const maxPriorityFeePerGas = max(estimate.maxPriorityFeePerGas, bump(outbid.maxPriorityFeePerGas));
    return { maxPriorityFeePerGas, maxFeePerGas: max(estimate.maxFeePerGas, bump(outbid.maxFeePerGas), maxPriorityFeePerGas) };
  }

  async function signUsdcTransfer(params: {
    to: Address;
    amount: bigint;
    nonce: number;
    /** Fee caps of the bytes these replace (same nonce): the new ones outbid them. */
    outbid?: FeeCaps;
  }): Promise<{ signedTx: Hex; txHash: Hash }> {
    if (params.amount <= 0n) throw new Error(`USDC transfer amount must be positive, got ${params.amount}`);
    const fees = await feesFor(params.outbid);
    const signedTx = await opsAccount.signTransaction(
      {
        type: "eip1559",
        chainId: config.chainId,
        nonce: params.nonce,
        to: usdcAddress,
        value: 0n,
        data: encodeFunctionData({ abi: usdcAbi, functionName: "transfer", args: [getAddress(params.to), params.amount] }),
        gas: transferGasLimit,
        ...fees,
      },
      { serializer: chain.serializers?.transaction },
    );
    return { signedTx, txHash: keccak256(signedTx) };
  }

  /** A zero-value transaction from the operations wallet to itself: it only uses up `nonce`. */
  async function signNonceFiller(params: { nonce: number; outbid?: FeeCaps }): Promise<{ signedTx: Hex; txHash: Hash }> {
    const fees = await feesFor(params.outbid);
    const signedTx = await opsAccount.signTransaction(
      { type: "eip1559", chainId: config.chainId, nonce: params.nonce, to: opsAddress, value: 0n, gas: 21_000n, ...fees },
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
   * Bytes the node refuses for good throw BroadcastRefusedError; anything else (the node is
   * down, a timeout) throws as it came.
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
      if (NONCE_TOO_LOW_PATTERN.test(message)) {
        if (await isTransactionKnown(txHash)) return txHash;
        throw new BroadcastRefusedError("nonce_used", `nonce too low: another transaction used this nonce (${lineMatching(message, NONCE_TOO_LOW_PATTERN)})`);
      }
      if (UNDERPRICED_PATTERN.test(message)) throw new BroadcastRefusedError("underpriced", `fee too low: ${lineMatching(message, UNDERPRICED_PATTERN)}`);
      throw error;
    }
  }

  async function getTransferReceipt(txHash: Hash): Promise<TransferReceipt | null> {
    const receipt = await getReceiptOrNull(txHash);
    return receipt ? { status: receipt.status, blockNumber: receipt.blockNumber } : null;
  }

  /** The latest block number, never from viem's cache (confirmations are counted with it). */
  async function getBlockNumber(): Promise<bigint> {
    return publicClient.getBlockNumber({ cacheTime: 0 });
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

  /** How many of the operations wallet's transactions are mined: the next nonce the chain will execute. */
  async function getMinedNonce(): Promise<number> {
    return publicClient.getTransactionCount({ address: opsAddress, blockTag: "latest" });
  }

  /** The operations wallet's ETH, which pays the gas of every transfer. */
  async function getOpsEthBalance(): Promise<bigint> {
    return publicClient.getBalance({ address: opsAddress });
  }

  /**
   * The operations wallet as of one block: its USDC, its ETH and how many of its transactions
   * that block includes. Read at the same block, so a transfer mined a moment ago is either in
   * all three or in none.
   */
  async function readOpsWalletAt(): Promise<{ blockNumber: bigint; usdc: bigint; eth: bigint; minedNonce: number }> {
    const blockNumber = await publicClient.getBlockNumber({ cacheTime: 0 });
    const [usdc, eth, minedNonce] = await Promise.all([
      publicClient.readContract({ address: usdcAddress, abi: usdcAbi, functionName: "balanceOf", args: [opsAddress], blockNumber }),
      publicClient.getBalance({ address: opsAddress, blockNumber }),
      publicClient.getTransactionCount({ address: opsAddress, blockNumber }),
    ]);
    return { blockNumber, usdc, eth, minedNonce };
  }

  /** The most gas one USDC transfer can cost at today's fee cap (its fixed gas limit × maxFeePerGas). */
  async function estimateTransferGasCost(): Promise<bigint> {
    const fees = await publicClient.estimateFeesPerGas({ type: "eip1559" });
    return transferGasLimit * fees.maxFeePerGas;
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
    pollingIntervalMs,
    inspectDeposit,
    signUsdcTransfer,
    signNonceFiller,
    broadcastSignedTx,
    getTransferReceipt,
    getBlockNumber,
    waitForTransferReceipt,
    getPendingNonce,
    getMinedNonce,
    getUsdcBalance,
    getOpsEthBalance,
    readOpsWalletAt,
    estimateTransferGasCost,
    isConnected,
  };
}

// Wording differs per client: geth "already known", Nethermind "AlreadyKnown", Erigon/older
// geth "known transaction", anvil/reth "transaction already imported"/"already known".
const ALREADY_KNOWN_PATTERN = /already known|alreadyknown|known transaction|already imported|already in (the )?(mem|tx)pool|transaction already exists/i;
const NONCE_TOO_LOW_PATTERN = /nonce too low|nonce is too low|oldnonce|nonce has already been used|invalid nonce/i;
// geth "transaction underpriced", "replacement transaction underpriced", "max fee per gas less
// than block base fee"; anvil/reth "fee cap too low", "FeeCapTooLow"; Nethermind "FeeTooLow".
const UNDERPRICED_PATTERN = /underpriced|less than (the )?block base ?fee|fee ?cap (is )?too low|feecaptoolow|feetoolow|fee too low|insufficient ?(max )?fee|max fee per gas less than/i;

/** Fee caps of signed EIP-1559 bytes (a replacement must outbid them). */
export function feeCapsOf(signedTx: Hex): FeeCaps {
  const tx = parseTransaction(signedTx);
  return { maxFeePerGas: tx.maxFeePerGas ?? tx.gasPrice ?? 0n, maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? tx.gasPrice ?? 0n };
}

function max(...values: bigint[]): bigint {
  return values.reduce((a, b) => (b > a ? b : a));
}

/** The node's own words: the line of a viem error that says what went wrong. */
function lineMatching(message: string, pattern: RegExp): string {
  return (message.split("\n").find((l) => pattern.test(l)) ?? message).trim();
}

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
