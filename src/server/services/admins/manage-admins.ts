import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";

// Who is an admin (issue 7, item 2). Admin rights come only from someone who controls the
// deployment: this service is called by `npm run admin` (scripts/admin.ts), which runs on the
// server against its database, and by the tests. No API procedure imports it, and nothing else
// writes agents.is_admin or owners.is_admin: an email or an agent id someone registers first
// gives no rights.

export type AdminChange = "grant" | "revoke";

/** An existing console account becomes (or stops being) an admin. Emails are matched lower-cased, as sign-up stores them. */
export async function setOwnerAdmin({ db, email, change }: { db: Db; email: string; change: AdminChange }) {
  const normalized = email.trim().toLowerCase();
  const owner = await db.owner.findUnique({ where: { email: normalized }, select: { id: true } });
  // Granting to an address nobody has signed up with would hand the rights to whoever signs up
  // with it first: the account must exist, so the operator grants to the person who owns it.
  if (!owner) throw new AppError("NOT_FOUND", `No console account with email '${normalized}'; it must sign up first`, { field: "email" });
  return db.owner.update({ where: { id: owner.id }, data: { isAdmin: change === "grant" }, select: { id: true, email: true, name: true, isAdmin: true } });
}

/** An existing agent becomes (or stops being) an admin agent; its keys carry the change on their next request. */
export async function setAgentAdmin({ db, agentId, change }: { db: Db; agentId: string; change: AdminChange }) {
  const agent = await db.agent.findUnique({ where: { id: agentId }, select: { id: true } });
  if (!agent) throw new AppError("AGENT_NOT_FOUND", `Agent '${agentId}' not found`, { field: "agent_id" });
  return db.agent.update({ where: { id: agentId }, data: { isAdmin: change === "grant" }, select: { id: true, name: true, isAdmin: true, deactivatedAt: true } });
}

/** Every admin owner and admin agent. */
export async function listAdmins({ db }: { db: Db }) {
  const [owners, agents] = await Promise.all([
    db.owner.findMany({ where: { isAdmin: true }, select: { id: true, email: true, name: true }, orderBy: { email: "asc" } }),
    db.agent.findMany({ where: { isAdmin: true }, select: { id: true, name: true, deactivatedAt: true }, orderBy: { id: "asc" } }),
  ]);
  return { owners, agents };
}
