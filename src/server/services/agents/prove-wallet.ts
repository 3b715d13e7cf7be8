import { getAddress, isAddressEqual, recoverMessageAddress, type Address, type Hex } from "viem";
import { createSiweMessage, generateSiweNonce, parseSiweMessage } from "viem/siwe";
import type { Env } from "~/env";
import type { ChainClient } from "~/server/chain/chain";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { log } from "~/server/log";
import { assertManagesAgent, type ManagingActor } from "./assert-manages-agent";
import { getAgent } from "./get-agent";
import { normalizeWallet } from "./register-agent";

// Proof of wallet control (issue 7, item 1). A deposit may fund a job only when it comes from a
// wallet its buyer proved it controls, so nobody can point their profile at someone else's
// wallet and spend that wallet's deposits. The proof is an EIP-4361 (Sign-In with Ethereum)
// message naming the agent, the wallet and the chain, with a single-use nonce and a short expiry,
// signed by the wallet.

export const WALLET_CHALLENGE_TTL_MS = 10 * 60_000;
/** Challenges of an agent kept this long after they expire (so a replay still reads "used"), then deleted. */
const CHALLENGE_RETENTION_MS = 24 * 3600_000;
export const MAX_WALLET_PROOF_MESSAGE_LENGTH = 4096;
/** Bytes: a plain signature is 65; contract-wallet (ERC-1271/6492) signatures carry more. */
export const MAX_WALLET_SIGNATURE_BYTES = 8192;

/** A wallet is proven only while the address it proved is the agent's current wallet. */
export function isWalletProven(agent: { walletAddress: string | null; walletVerifiedAddress: string | null }): boolean {
  return agent.walletAddress !== null && agent.walletVerifiedAddress !== null && agent.walletVerifiedAddress === agent.walletAddress;
}

export function walletStatement(walletAddress: string, agentId: string): string {
  return `${walletAddress} is the wallet of agent ${agentId} on Agent Market.`;
}

/** The site that asks for the signature: NEXTAUTH_URL (the console's public URL), else localhost:PORT. */
function signingOrigin(env: Env): { scheme: string; domain: string; origin: string } {
  if (env.NEXTAUTH_URL) {
    const url = new URL(env.NEXTAUTH_URL);
    const scheme = url.protocol.replace(/:$/, "");
    return { scheme, domain: url.host, origin: `${scheme}://${url.host}` };
  }
  const domain = `localhost:${env.PORT}`;
  return { scheme: "http", domain, origin: `http://${domain}` };
}

/**
 * Issues the message an agent's wallet must sign to prove the agent controls it. Only the agent,
 * its owner or an admin may ask (the message is a capability until it is used or expires).
 */
export async function issueWalletChallenge({
  db,
  env,
  actor,
  agentId,
  walletAddress,
  now = new Date(),
}: {
  db: Db;
  env: Env;
  actor: ManagingActor;
  agentId: string;
  walletAddress: string;
  now?: Date;
}) {
  const agent = await getAgent({ db, agentId });
  assertManagesAgent(actor, agent, "prove its wallet");
  if (agent.deactivatedAt) throw new AppError("AGENT_DEACTIVATED", `Agent '${agentId}' is deactivated; its wallet can no longer change`);
  const wallet = normalizeWallet(walletAddress);
  if (!wallet) throw new AppError("INVALID_WALLET", "wallet_address: is required", { field: "wallet_address" });

  const { scheme, domain, origin } = signingOrigin(env);
  const nonce = generateSiweNonce();
  const expiresAt = new Date(now.getTime() + WALLET_CHALLENGE_TTL_MS);
  const agentUrl = `${origin}/api/v1/agents/${encodeURIComponent(agentId)}`;
  const message = createSiweMessage({
    scheme,
    domain,
    address: wallet as Address,
    statement: walletStatement(wallet, agentId),
    uri: `${agentUrl}/wallet`,
    version: "1",
    chainId: env.CHAIN_ID,
    nonce,
    issuedAt: now,
    expirationTime: expiresAt,
    requestId: `agent:${agentId}`,
    resources: [agentUrl],
  });
  await db.$transaction([
    // Keeps the table small without a sweep: an agent's long-dead challenges go when it asks again.
    db.walletChallenge.deleteMany({ where: { agentId, expiresAt: { lt: new Date(now.getTime() - CHALLENGE_RETENTION_MS) } } }),
    db.walletChallenge.create({ data: { nonce, agentId, walletAddress: wallet, chainId: env.CHAIN_ID, message, createdAt: now, expiresAt } }),
  ]);
  return { message, nonce, walletAddress: wallet, expiresAt };
}

function invalidChallenge(reason: string, message: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError("WALLET_CHALLENGE_INVALID", `message: ${message}`, { field: "message", reason, ...extra });
}

/**
 * Checks a signed challenge and, if the wallet signed exactly the message issued for this agent
 * on this chain, unused and unexpired, sets it as the agent's proven wallet. The nonce is used up
 * by one conditional UPDATE in the transaction that sets the wallet, so two concurrent proofs
 * with the same message cannot both succeed. A bad signature does not use up the nonce.
 */
export async function proveWallet({
  db,
  env,
  chain,
  actor,
  agentId,
  message,
  signature,
}: {
  db: Db;
  env: Env;
  chain: ChainClient;
  actor: ManagingActor;
  agentId: string;
  message: string;
  signature: Hex;
}) {
  const agent = await getAgent({ db, agentId });
  assertManagesAgent(actor, agent, "prove its wallet");
  if (agent.deactivatedAt) throw new AppError("AGENT_DEACTIVATED", `Agent '${agentId}' is deactivated; its wallet can no longer change`);

  const fields = parseSiweMessage(message);
  if (!fields.nonce || !fields.address || fields.chainId === undefined) {
    throw invalidChallenge("not_a_challenge", "is not an EIP-4361 message; sign the message POST /agents/{agent_id}/wallet/challenge returned");
  }
  if (fields.chainId !== env.CHAIN_ID) {
    throw invalidChallenge("wrong_chain", `is for chain ${fields.chainId}; this market runs on chain ${env.CHAIN_ID}`, { chain_id: env.CHAIN_ID });
  }
  const challenge = await db.walletChallenge.findUnique({ where: { nonce: fields.nonce } });
  if (!challenge) throw invalidChallenge("unknown_nonce", "its nonce was not issued by this market; ask for a new challenge");
  if (challenge.agentId !== agentId) throw invalidChallenge("other_agent", "was issued for another agent");
  // The issued text, byte for byte: any edit (address, chain, expiry, statement) is refused.
  if (challenge.message !== message) throw invalidChallenge("altered", "differs from the challenge that was issued; sign it unchanged");
  if (challenge.usedAt) throw new AppError("WALLET_CHALLENGE_USED", "message: this challenge was already used; ask for a new one", { field: "message" });
  if (challenge.expiresAt.getTime() <= Date.now()) {
    throw new AppError("WALLET_CHALLENGE_EXPIRED", `message: this challenge expired at ${challenge.expiresAt.toISOString()}; ask for a new one`, {
      field: "message",
      expired_at: challenge.expiresAt.toISOString(),
    });
  }

  const wallet = getAddress(challenge.walletAddress);
  if (!(await signedBy({ chain, wallet, message, signature }))) {
    throw new AppError("WALLET_SIGNATURE_INVALID", `signature: not a signature of this message by ${wallet}`, { field: "signature", wallet_address: wallet });
  }

  return db.$transaction(async (tx) => {
    // Single use: only the first proof with this nonce finds it unused (and still unexpired, by the database's clock).
    const consumed = await tx.$queryRaw<{ nonce: string }[]>`
      UPDATE wallet_challenges SET used_at = now()
      WHERE nonce = ${challenge.nonce} AND agent_id = ${agentId} AND used_at IS NULL AND expires_at > now()
      RETURNING nonce`;
    if (consumed.length === 0) {
      const current = await tx.walletChallenge.findUniqueOrThrow({ where: { nonce: challenge.nonce } });
      if (current.usedAt) throw new AppError("WALLET_CHALLENGE_USED", "message: this challenge was already used; ask for a new one", { field: "message" });
      throw new AppError("WALLET_CHALLENGE_EXPIRED", "message: this challenge expired; ask for a new one", { field: "message", expired_at: current.expiresAt.toISOString() });
    }
    const updated = await tx.agent.updateMany({
      where: { id: agentId, deactivatedAt: null },
      data: { walletAddress: wallet, walletVerifiedAddress: wallet, walletVerifiedAt: new Date() },
    });
    if (updated.count === 0) throw new AppError("AGENT_DEACTIVATED", `Agent '${agentId}' is deactivated; its wallet can no longer change`);
    return tx.agent.findUniqueOrThrow({ where: { id: agentId } });
  });
}

/**
 * An externally owned account's signature is checked offline. Anything else may be a contract
 * wallet: the chain is asked (ERC-1271, or ERC-6492 for one not deployed yet).
 */
async function signedBy({ chain, wallet, message, signature }: { chain: ChainClient; wallet: Address; message: string; signature: Hex }): Promise<boolean> {
  try {
    if (isAddressEqual(await recoverMessageAddress({ message, signature }), wallet)) return true;
  } catch {
    // Not a 65-byte ECDSA signature: perhaps a contract wallet's.
  }
  try {
    return await chain.publicClient.verifyMessage({ address: wallet, message, signature });
  } catch (err) {
    if (await chain.isConnected()) {
      log.info("wallet signature refused by the chain check", { wallet, error: (err as Error).message });
      return false;
    }
    throw new AppError("CHAIN_UNAVAILABLE", "Could not reach the chain to check a contract wallet's signature; try again");
  }
}
