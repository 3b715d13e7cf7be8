// What agents do over REST (/api/v1), for setting up and driving e2e scenarios. Deposits are real
// ERC-20 transfers on the app's anvil chain, signed here with viem.
import { randomUUID } from "node:crypto";
import { expect, type APIRequestContext, type APIResponse } from "@playwright/test";
import { createPublicClient, createWalletClient, erc20Abi, http, parseUnits, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

const USDC_DECIMALS = 6;

export interface Agent {
  agentId: string;
  apiKey: string;
  walletAddress: Address;
}

/** The parts of the Job DTO (src/server/api/dto.ts) the tests look at. */
export interface Job {
  task_id: string;
  title: string;
  rubric: string;
  price: string;
  status: "open" | "funded" | "claimed" | "resolved" | "expired" | "cancelled" | "refunded";
  expiry: number;
  buyer_id: string;
  participants: Array<{ worker_id: string; claimed_at: string }>;
  submission_count: number;
  winner_id: string | null;
  deposit_tx_hash: string | null;
  payout_status: string | null;
}

export interface Submission {
  submission_id: string;
  status: "judging" | "passed" | "failed" | string;
  attempt: number;
}

interface DepositInfo {
  operations_wallet: Address;
  usdc_contract: Address;
  chain_id: number;
  rpc_url?: string;
}

export interface NewJob {
  title: string;
  description?: string;
  rubric?: string;
  /** USDC, e.g. "2.5". */
  price?: string;
  /** Unix seconds. */
  expiry?: number;
}

export const DEFAULT_RUBRIC = "1. Mentions the finding\n2. Under 100 words";

/** Makes titles and agent ids unique across tests and runs sharing one app. */
export function uniqueSuffix(): string {
  return randomUUID().slice(0, 8);
}

export function unixSecondsFromNow(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds;
}

export class Market {
  private depositInfo: DepositInfo | undefined;

  constructor(
    private readonly request: APIRequestContext,
    /** A funded anvil account (gas) that signs this worker's deposits; see fixtures.ts. */
    private readonly depositorKey: Hex,
  ) {}

  /** A buyer whose proven wallet is the account that signs its deposits (only a proven wallet may fund). */
  async registerBuyer(label = "buyer"): Promise<Agent> {
    const buyer = await this.registerAgent(label, privateKeyToAccount(this.depositorKey).address);
    await this.proveWallet(buyer, this.depositorKey);
    return buyer;
  }

  /** Proves the agent controls the wallet of `privateKey`: the challenge, signed by that key, posted back. */
  async proveWallet(agent: Pick<Agent, "agentId" | "apiKey">, privateKey: Hex): Promise<void> {
    const account = privateKeyToAccount(privateKey);
    const challenge = (await expectStatus(
      await this.request.post(`/api/v1/agents/${agent.agentId}/wallet/challenge`, { headers: authorization(agent), data: { wallet_address: account.address } }),
      200,
      `wallet challenge for ${agent.agentId}`,
    )) as { message: string };
    const signature = await account.signMessage({ message: challenge.message });
    const proven = (await expectStatus(
      await this.request.post(`/api/v1/agents/${agent.agentId}/wallet`, { headers: authorization(agent), data: { message: challenge.message, signature } }),
      200,
      `prove the wallet of ${agent.agentId}`,
    )) as { wallet_verified: boolean };
    expect(proven.wallet_verified).toBe(true);
  }

  /** A worker paid to a fresh address nobody else uses. */
  registerWorker(label = "worker"): Promise<Agent> {
    return this.registerAgent(label, privateKeyToAccount(generatePrivateKey()).address);
  }

  async registerAgent(label: string, walletAddress: Address): Promise<Agent> {
    const agentId = `${label}-${uniqueSuffix()}`;
    const response = await this.request.post("/api/v1/agents", { data: { agent_id: agentId, name: label, wallet_address: walletAddress } });
    const body = (await expectStatus(response, 201, `register ${agentId}`)) as { api_key: string };
    return { agentId, apiKey: body.api_key, walletAddress };
  }

  async postJob(buyer: Agent, job: NewJob): Promise<Job> {
    const response = await this.request.post("/api/v1/jobs", {
      headers: authorization(buyer),
      data: {
        title: job.title,
        description: job.description ?? "Summarise the attached article in a few sentences.",
        rubric: job.rubric ?? DEFAULT_RUBRIC,
        price: job.price ?? "2.5",
        expiry: job.expiry ?? unixSecondsFromNow(2 * 3600),
      },
    });
    return (await expectStatus(response, 201, `post job "${job.title}"`)) as Job;
  }

  /**
   * Funds a job the way a buyer agent does: test USDC from the dev faucet, a transfer of the price
   * to the operations wallet, then POST /fund with the transaction hash, repeated while the
   * deposit lacks confirmations (anvil mines a block every second).
   */
  async fundJob(buyer: Agent, job: Job): Promise<Job> {
    const info = await this.getDepositInfo();
    if (!info.rpc_url) throw new Error("deposit-info has no rpc_url: the app is not running on its embedded dev chain");
    await expectStatus(
      await this.request.post("/api/v1/dev/faucet", { data: { address: buyer.walletAddress, amount: job.price } }),
      200,
      "faucet",
    );

    const transport = http(info.rpc_url);
    const account = privateKeyToAccount(this.depositorKey);
    const wallet = createWalletClient({ account, chain: foundry, transport });
    const chain = createPublicClient({ chain: foundry, transport, cacheTime: 0 });
    const txHash = await wallet.writeContract({
      address: info.usdc_contract,
      abi: erc20Abi,
      functionName: "transfer",
      args: [info.operations_wallet, parseUnits(job.price, USDC_DECIMALS)],
    });
    const receipt = await chain.waitForTransactionReceipt({ hash: txHash, pollingInterval: 250, timeout: 20_000 });
    expect(receipt.status, `deposit transfer ${txHash}`).toBe("success");

    let funded: Job | undefined;
    await expect(async () => {
      const response = await this.request.post(`/api/v1/jobs/${job.task_id}/fund`, { headers: authorization(buyer), data: { tx_hash: txHash } });
      funded = (await expectStatus(response, 200, `fund ${job.task_id}`)) as Job;
    }).toPass({ timeout: 20_000, intervals: [250, 500, 1_000] });
    expect(funded?.status).toBe("funded");
    return funded!;
  }

  /**
   * USDC sent to the operations wallet that no POST /fund ever claims (faucet USDC, then a real
   * transfer from this worker's depositor account): money in that funds no job.
   */
  async sendStrayDeposit(amount: string): Promise<Hex> {
    const info = await this.getDepositInfo();
    if (!info.rpc_url) throw new Error("deposit-info has no rpc_url: the app is not running on its embedded dev chain");
    const account = privateKeyToAccount(this.depositorKey);
    await expectStatus(await this.request.post("/api/v1/dev/faucet", { data: { address: account.address, amount } }), 200, "faucet");
    const transport = http(info.rpc_url);
    const wallet = createWalletClient({ account, chain: foundry, transport });
    const txHash = await wallet.writeContract({ address: info.usdc_contract, abi: erc20Abi, functionName: "transfer", args: [info.operations_wallet, parseUnits(amount, USDC_DECIMALS)] });
    const receipt = await createPublicClient({ chain: foundry, transport, cacheTime: 0 }).waitForTransactionReceipt({ hash: txHash, pollingInterval: 250, timeout: 20_000 });
    expect(receipt.status, `stray transfer ${txHash}`).toBe("success");
    return txHash;
  }

  async postFundedJob(buyer: Agent, job: NewJob): Promise<Job> {
    return this.fundJob(buyer, await this.postJob(buyer, job));
  }

  async claimJob(worker: Agent, taskId: string): Promise<void> {
    await expectStatus(await this.request.post(`/api/v1/jobs/${taskId}/claim`, { headers: authorization(worker) }), 200, `claim ${taskId}`);
  }

  async submitWork(worker: Agent, taskId: string, content: string): Promise<Submission> {
    const response = await this.request.post(`/api/v1/jobs/${taskId}/submit`, { headers: authorization(worker), data: { content } });
    return (await expectStatus(response, 202, `submit to ${taskId}`)) as Submission;
  }

  async cancelJob(buyer: Agent, taskId: string): Promise<Job> {
    return (await expectStatus(await this.request.post(`/api/v1/jobs/${taskId}/cancel`, { headers: authorization(buyer) }), 200, `cancel ${taskId}`)) as Job;
  }

  async getJob(taskId: string): Promise<Job> {
    return (await expectStatus(await this.request.get(`/api/v1/jobs/${taskId}`), 200, `get ${taskId}`)) as Job;
  }

  private async getDepositInfo(): Promise<DepositInfo> {
    this.depositInfo ??= (await expectStatus(await this.request.get("/api/v1/platform/deposit-info"), 200, "deposit-info")) as DepositInfo;
    return this.depositInfo;
  }
}

function authorization(agent: Pick<Agent, "apiKey">): Record<string, string> {
  return { Authorization: `Bearer ${agent.apiKey}` };
}

/** Asserts the status and returns the JSON body; a failure message shows what the API said. */
export async function expectStatus(response: APIResponse, status: number, what: string): Promise<unknown> {
  const text = await response.text();
  expect(response.status(), `${what}: HTTP ${response.status()} ${text.slice(0, 500)}`).toBe(status);
  return text ? JSON.parse(text) : undefined;
}
