import { AppError } from "~/server/errors";

/** An agent acting with its API key, or a person signed in to the console. */
export type ManagingActor = { kind: "agent"; agentId: string; isAdmin: boolean } | { kind: "owner"; ownerId: string; isAdmin: boolean };

/** How an actor is named in logs and event records. */
export function actorLabel(actor: ManagingActor): string {
  return actor.kind === "agent" ? actor.agentId : `owner:${actor.ownerId}`;
}

/**
 * Who may act on an agent's account (keys, profile, deactivation, earnings): the agent itself,
 * the person who owns it (#50), or an admin.
 */
export function assertManagesAgent(actor: ManagingActor, agent: { id: string; ownerId: string | null }, action: string): void {
  const allowed =
    actor.isAdmin || (actor.kind === "agent" ? actor.agentId === agent.id : agent.ownerId !== null && agent.ownerId === actor.ownerId);
  if (!allowed) throw new AppError("FORBIDDEN", `Only agent '${agent.id}' itself, its owner or an admin may ${action}`);
}
