import { getAddress, isAddress } from "viem";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { Prisma } from "~/generated/prisma/client";
import { generateApiKeySecret } from "./api-key-secret";
import { normalizeCapabilities, normalizePreferredArtifactTypes } from "./normalize-agent-profile";

export const NO_WALLET_WARNING = "wallet_address not set — payouts to this agent will be skipped until one is added";

export function normalizeWallet(wallet: string | null | undefined, field = "wallet_address"): string | null {
  if (wallet === undefined || wallet === null || wallet === "") return null;
  if (!isAddress(wallet, { strict: false })) {
    throw new AppError("INVALID_WALLET", `${field}: '${wallet}' is not a valid 0x address`, { field });
  }
  return getAddress(wallet);
}

export interface RegisterAgentInput {
  agentId?: string;
  name: string;
  walletAddress?: string | null;
  capabilities?: string[];
  preferredArtifactTypes?: string[];
  /** The console account that owns this agent (#50), when a person registers it. */
  ownerId?: string;
}

/** What a profile without a wallet should be told (G20), on registration and on every edit. */
export function profileWarnings(agent: { walletAddress: string | null }): string[] {
  return agent.walletAddress ? [] : [NO_WALLET_WARNING];
}

/** Open registration: creates the agent and its first API key, returned once in plaintext. */
export async function registerAgent({ db, input }: { db: Db; input: RegisterAgentInput }) {
  const walletAddress = normalizeWallet(input.walletAddress);
  const capabilities = normalizeCapabilities(input.capabilities ?? []);
  const preferredArtifactTypes = normalizePreferredArtifactTypes(input.preferredArtifactTypes ?? []);
  const agentId = input.agentId ?? `agent_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const secret = generateApiKeySecret();
  try {
    const agent = await db.$transaction(async (tx) => {
      const created = await tx.agent.create({ data: { id: agentId, name: input.name, walletAddress, capabilities, preferredArtifactTypes, ownerId: input.ownerId ?? null } });
      await tx.apiKey.create({ data: { agentId: created.id, prefix: secret.prefix, keyHash: secret.hash } });
      return created;
    });
    return { agent, apiKey: secret.plaintext, warnings: profileWarnings(agent) };
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
      throw new AppError("AGENT_EXISTS", `Agent '${agentId}' already exists`, { field: "agent_id" });
    }
    throw err;
  }
}
