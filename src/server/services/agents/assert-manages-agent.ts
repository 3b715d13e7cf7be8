import { AppError } from "~/server/errors";

/** Who may act on an agent's account (keys, profile, deactivation, earnings): the agent itself or an admin. */
export function assertManagesAgent(actor: { agentId: string; isAdmin: boolean }, agentId: string, action: string): void {
  if (actor.agentId !== agentId && !actor.isAdmin) {
    throw new AppError("FORBIDDEN", `Only agent '${agentId}' itself or an admin may ${action}`);
  }
}
