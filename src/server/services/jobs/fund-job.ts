import type { Hash } from "viem";
import type { Db } from "~/server/db";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import { Prisma } from "~/generated/prisma/client";
import { AppError } from "~/server/errors";
import { formatUsdc } from "~/server/money";
import { isWalletProven } from "~/server/services/agents/prove-wallet";
import { assertBuyer, lockJob, transitionJob } from "./job-state";

const OVERPAYMENT_WARNING_RATIO = 1.1;

/** The buyer's wallet if it is set and proven, else the error that says what to do. */
function assertProvenWallet(buyerId: string, buyer: { walletAddress: string | null; walletVerifiedAddress: string | null }): string {
  if (!buyer.walletAddress) {
    throw new AppError("WALLET_REQUIRED", "wallet_address: set the wallet you pay from (PATCH /agents/{agent_id}) before funding, so the deposit can be matched to you", {
      field: "wallet_address",
    });
  }
  if (!isWalletProven(buyer)) {
    throw new AppError(
      "WALLET_NOT_PROVEN",
      `wallet_address: prove that agent '${buyerId}' controls ${buyer.walletAddress} before funding: sign the message from POST /agents/${buyerId}/wallet/challenge and send it to POST /agents/${buyerId}/wallet`,
      { field: "wallet_address", wallet_address: buyer.walletAddress, challenge: `/agents/${buyerId}/wallet/challenge`, prove: `/agents/${buyerId}/wallet` },
    );
  }
  return buyer.walletAddress;
}

function sentFrom(from: string | null, wallet: string): boolean {
  return from !== null && from.toLowerCase() === wallet.toLowerCase();
}

function notFromBuyer(hash: string, from: string | null, wallet: string): AppError {
  return new AppError("DEPOSIT_NOT_FROM_BUYER", `tx_hash: the USDC in ${hash} was not sent from your proven wallet ${wallet}`, {
    field: "tx_hash",
    from,
    wallet_address: wallet,
  });
}

/**
 * open -> funded, once the buyer's USDC transfer to the operations wallet is on chain, was sent
 * from the wallet the buyer proved it controls, succeeded, is large enough, has enough
 * confirmations and has never funded another job.
 */
export async function fundJob({
  db,
  env,
  chain,
  actor,
  jobId,
  txHash,
}: {
  db: Db;
  env: Env;
  chain: ChainClient;
  actor: { agentId: string };
  jobId: string;
  txHash: string;
}) {
  const hash = txHash.toLowerCase() as Hash;
  // Cheap checks before the chain is asked anything.
  const job = await db.$transaction((tx) => lockJob(tx, jobId));
  assertBuyer(job, actor, "fund it");
  // Funding again with the deposit that funded it is answered as the first time was: a client
  // whose first call was cut short (a crash before its answer) may safely ask again.
  if (job.depositTxHash === hash) return { job, warnings: [] as string[] };
  if (job.status !== "open") {
    throw new AppError(job.status === "expired" ? "JOB_EXPIRED" : "JOB_NOT_OPEN", `Job is ${job.status}; only an open job can be funded`, { status: job.status });
  }
  // The deposit must come from a wallet the buyer proved it controls: a wallet_address alone is
  // only a claim, and anyone could name the wallet that sent someone else's deposit.
  const buyer = await db.agent.findUniqueOrThrow({ where: { id: job.buyerId }, select: { walletAddress: true, walletVerifiedAddress: true } });
  const wallet = assertProvenWallet(job.buyerId, buyer);
  const used = await db.job.findUnique({ where: { depositTxHash: hash }, select: { id: true } });
  if (used) throw new AppError("DEPOSIT_ALREADY_USED", `tx_hash ${hash} has already funded a job`, { field: "tx_hash" });

  let deposit: Awaited<ReturnType<ChainClient["inspectDeposit"]>>;
  try {
    deposit = await chain.inspectDeposit(hash);
  } catch (err) {
    throw new AppError("CHAIN_UNAVAILABLE", `Could not read the chain: ${(err as Error).message}`);
  }
  if (!deposit.found) {
    throw new AppError("DEPOSIT_NOT_FOUND", `tx_hash: no mined transaction ${hash} on chain ${env.CHAIN_ID}`, { field: "tx_hash" });
  }
  if (!deposit.succeeded) throw new AppError("DEPOSIT_FAILED", `tx_hash: transaction ${hash} reverted`, { field: "tx_hash" });
  if (deposit.transfersToOps > 0n && !sentFrom(deposit.from, wallet)) throw notFromBuyer(hash, deposit.from, wallet);
  if (deposit.transfersToOps < job.price) {
    throw new AppError(
      "DEPOSIT_TOO_SMALL",
      `tx_hash: transfers ${formatUsdc(deposit.transfersToOps)} USDC to the operations wallet; the job needs ${formatUsdc(job.price)}`,
      { field: "tx_hash", received: formatUsdc(deposit.transfersToOps), required: formatUsdc(job.price) },
    );
  }
  if (deposit.confirmations < env.CONFIRMATIONS) {
    throw new AppError(
      "DEPOSIT_UNCONFIRMED",
      `tx_hash: ${deposit.confirmations} of ${env.CONFIRMATIONS} confirmations so far; try again when more blocks have been mined`,
      { field: "tx_hash", confirmations: deposit.confirmations, required: env.CONFIRMATIONS },
    );
  }

  try {
    const funded = await db.$transaction(async (tx) => {
      const current = await lockJob(tx, jobId);
      if (current.status !== "open") {
        throw new AppError("JOB_NOT_OPEN", `Job is ${current.status}; only an open job can be funded`, { status: current.status });
      }
      // Again under the job lock, with the buyer's row held (job, then agent: the claim's lock
      // order): a wallet changed while the chain was read must not fund with the old proof.
      const [locked] = await tx.$queryRaw<{ wallet_address: string | null; wallet_verified_address: string | null }[]>`
        SELECT wallet_address, wallet_verified_address FROM agents WHERE agent_id = ${current.buyerId} FOR SHARE`;
      const provenNow = assertProvenWallet(current.buyerId, { walletAddress: locked?.wallet_address ?? null, walletVerifiedAddress: locked?.wallet_verified_address ?? null });
      if (!sentFrom(deposit.from, provenNow)) throw notFromBuyer(hash, deposit.from, provenNow);
      return transitionJob(
        tx,
        current,
        "fund",
        { actor: actor.agentId, data: { tx_hash: hash, amount: deposit.transfersToOps.toString() } },
        { depositTxHash: hash, depositAmount: deposit.transfersToOps, depositFrom: deposit.from, fundedAt: new Date() },
      );
    });
    const warnings: string[] = [];
    // Over by more than 10 %, in integers: deposit * 10 > price * 11.
    if (deposit.transfersToOps * 10n > job.price * BigInt(OVERPAYMENT_WARNING_RATIO * 10)) {
      warnings.push(
        `deposit of ${formatUsdc(deposit.transfersToOps)} USDC is more than 10% over the price of ${formatUsdc(job.price)} USDC; the excess is held with the job`,
      );
    }
    return { job: funded, warnings };
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
      throw new AppError("DEPOSIT_ALREADY_USED", `tx_hash ${hash} has already funded a job`, { field: "tx_hash" });
    }
    throw err;
  }
}
