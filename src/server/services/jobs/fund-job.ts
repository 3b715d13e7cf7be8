import type { Hash } from "viem";
import type { Db } from "~/server/db";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import { Prisma } from "~/generated/prisma/client";
import { AppError } from "~/server/errors";
import { formatUsdc } from "~/server/money";
import { assertBuyer, lockJob, transitionJob } from "./job-state";

const OVERPAYMENT_WARNING_RATIO = 1.1;

/**
 * open -> funded, once the buyer's USDC transfer to the operations wallet is on chain,
 * succeeded, is large enough, has enough confirmations and has never funded another job.
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
  if (job.status !== "open") {
    throw new AppError(job.status === "expired" ? "JOB_EXPIRED" : "JOB_NOT_OPEN", `Job is ${job.status}; only an open job can be funded`, { status: job.status });
  }
  // The deposit must come from the buyer's own wallet: otherwise anyone could claim another
  // agent's deposit for their job (and have it refunded to themselves, or block its owner).
  const buyer = await db.agent.findUniqueOrThrow({ where: { id: job.buyerId }, select: { walletAddress: true } });
  if (!buyer.walletAddress) {
    throw new AppError("WALLET_REQUIRED", "wallet_address: set the wallet you pay from (PATCH /agents/{agent_id}) before funding, so the deposit can be matched to you", {
      field: "wallet_address",
    });
  }
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
  if (deposit.transfersToOps > 0n && deposit.from?.toLowerCase() !== buyer.walletAddress.toLowerCase()) {
    throw new AppError("DEPOSIT_NOT_FROM_BUYER", `tx_hash: the USDC in ${hash} was not sent from your wallet ${buyer.walletAddress}`, {
      field: "tx_hash",
      from: deposit.from,
      wallet_address: buyer.walletAddress,
    });
  }
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
      return transitionJob(
        tx,
        current,
        "funded",
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
