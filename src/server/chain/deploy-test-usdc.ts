import {
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type Hash,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadTestUsdcArtifact, usdcAbi } from "./usdc-contract";

// Local chains mine in milliseconds; viem's default 4 s polling would dominate every wait.
const LOCAL_POLLING_INTERVAL_MS = 50;
const RECEIPT_TIMEOUT_MS = 60_000;

function localClients(rpcUrl: string, privateKey: Hex) {
  const account = privateKeyToAccount(privateKey);
  const transport = http(rpcUrl);
  // No chain on the client, and `chain: null` on each write: viem then reads the chain id from
  // the node, so these helpers work on anvil started with any --chain-id.
  const walletClient = createWalletClient({ account, transport });
  const publicClient = createPublicClient({ transport, pollingInterval: LOCAL_POLLING_INTERVAL_MS });
  return { account, walletClient, publicClient };
}

/** Deploys contracts/TestUSDC.sol (local chains only: anyone can mint it). */
export async function deployTestUsdc(params: { rpcUrl: string; deployerPrivateKey: Hex }): Promise<Address> {
  const { abi, bytecode } = loadTestUsdcArtifact();
  const { walletClient, publicClient } = localClients(params.rpcUrl, params.deployerPrivateKey);
  const hash = await walletClient.deployContract({ abi, bytecode, chain: null });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: RECEIPT_TIMEOUT_MS });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new Error(`TestUSDC deployment ${hash} failed (status ${receipt.status})`);
  }
  return receipt.contractAddress;
}

/** Mints TestUSDC (6-decimal units) and waits until the mint is mined. */
export async function mintTestUsdc(params: {
  rpcUrl: string;
  usdcAddress: Address;
  minterPrivateKey: Hex;
  to: Address;
  amount: bigint;
}): Promise<Hash> {
  const { walletClient, publicClient } = localClients(params.rpcUrl, params.minterPrivateKey);
  const hash = await walletClient.writeContract({
    address: params.usdcAddress,
    abi: usdcAbi,
    functionName: "mint",
    args: [params.to, params.amount],
    chain: null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: RECEIPT_TIMEOUT_MS });
  if (receipt.status !== "success") throw new Error(`TestUSDC mint ${hash} reverted`);
  return hash;
}
