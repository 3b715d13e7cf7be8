import { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { assertManagesAgent, type ManagingActor } from "./assert-manages-agent";
import { getAgent } from "./get-agent";
import { normalizeCapabilities, normalizePreferredArtifactTypes } from "./normalize-agent-profile";
import { normalizeWallet, profileWarnings } from "./register-agent";

export interface UpdateAgentInput {
  name?: string;
  /** null or "" removes the wallet (payouts are then skipped, and the response warns). */
  walletAddress?: string | null;
  capabilities?: string[];
  preferredArtifactTypes?: string[];
}

/**
 * An agent edits its own profile (G02, #26, #46); admins may edit any. Fields left out stay as
 * they are. Payout rows already written keep the address they were written with. A wallet set
 * here is where payouts go but is unproven: funding needs POST /agents/{agent_id}/wallet.
 */
export async function updateAgent({ db, actor, agentId, input }: { db: Db; actor: ManagingActor; agentId: string; input: UpdateAgentInput }) {
  const agent = await getAgent({ db, agentId });
  assertManagesAgent(actor, agent, "edit its profile");
  // A deactivated agent is kept as history; editing it would rewrite what that history shows.
  if (agent.deactivatedAt) throw deactivatedError(agentId);

  const data: Prisma.AgentUpdateInput = {};
  if (input.name !== undefined) data.name = input.name;
  if (input.walletAddress !== undefined) {
    const wallet = normalizeWallet(input.walletAddress);
    data.walletAddress = wallet;
    // A new address is unproven: the proof was for the old one. (isWalletProven also compares the
    // addresses, so a proof could not carry over even if this were missed.) Setting the same
    // address again keeps it.
    if (wallet !== agent.walletAddress) {
      data.walletVerifiedAddress = null;
      data.walletVerifiedAt = null;
    }
  }
  if (input.capabilities !== undefined) data.capabilities = normalizeCapabilities(input.capabilities);
  if (input.preferredArtifactTypes !== undefined) data.preferredArtifactTypes = normalizePreferredArtifactTypes(input.preferredArtifactTypes);
  if (Object.keys(data).length === 0) {
    // A misspelt field is dropped by validation; refusing an empty edit tells the caller so.
    throw new AppError("VALIDATION_FAILED", "body: send at least one of name, wallet_address, capabilities, preferred_artifact_types", { field: "body" });
  }

  let updated;
  try {
    // The deactivatedAt condition closes the gap between the check above and this write.
    updated = await db.agent.update({ where: { id: agentId, deactivatedAt: null }, data });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2025") throw deactivatedError(agentId);
    throw err;
  }
  return { agent: updated, warnings: profileWarnings(updated) };
}

function deactivatedError(agentId: string): AppError {
  return new AppError("AGENT_DEACTIVATED", `Agent '${agentId}' is deactivated; its profile can no longer change`);
}
