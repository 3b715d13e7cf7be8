import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { Prisma } from "~/generated/prisma/client";
import { hashPassword, verifyPassword } from "~/server/auth/password";

/** Open sign-up. The account is never an admin: only `npm run admin` on the server grants that. */
export async function signUpOwner({ db, email, name, password }: { db: Db; email: string; name: string; password: string }) {
  try {
    return await db.owner.create({ data: { email: email.trim().toLowerCase(), name, passwordHash: await hashPassword(password) } });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
      throw new AppError("CONFLICT", "email: an account with this email already exists", { field: "email" });
    }
    throw err;
  }
}

/** The owner behind an email and password, or null: the same answer for a wrong email or password. */
export async function authenticateOwner({ db, email, password }: { db: Db; email: string; password: string }) {
  const owner = await db.owner.findUnique({ where: { email: email.trim().toLowerCase() } });
  if (!owner) {
    // Spend the same time as a real check, so response times do not reveal which emails exist.
    await verifyPassword(password, "scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAA");
    return null;
  }
  return (await verifyPassword(password, owner.passwordHash)) ? owner : null;
}

export async function getOwner({ db, ownerId }: { db: Db; ownerId: string }) {
  const owner = await db.owner.findUnique({ where: { id: ownerId } });
  if (!owner) throw new AppError("UNAUTHORIZED", "Your session refers to an account that no longer exists; sign in again");
  return owner;
}

export async function listOwnedAgents({ db, ownerId }: { db: Db; ownerId: string }) {
  return db.agent.findMany({ where: { ownerId }, orderBy: { createdAt: "asc" } });
}
