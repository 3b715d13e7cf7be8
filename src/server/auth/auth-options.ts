import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { getEnv } from "~/env";
import { getDb } from "~/server/db";
import { authenticateOwner } from "~/server/services/owners/manage-owners";

/** Console sign-in for owners (people), with email and password; sessions are signed JWT cookies. */
export function getAuthOptions(): NextAuthOptions {
  return {
    secret: getEnv().NEXTAUTH_SECRET,
    session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
    pages: { signIn: "/sign-in" },
    providers: [
      CredentialsProvider({
        name: "Email and password",
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
        async authorize(credentials) {
          if (!credentials?.email || !credentials.password) return null;
          const owner = await authenticateOwner({ db: getDb(), email: credentials.email, password: credentials.password });
          return owner ? { id: owner.id, email: owner.email, name: owner.name } : null;
        },
      }),
    ],
    callbacks: {
      jwt({ token, user }) {
        if (user) token.ownerId = user.id;
        return token;
      },
      session({ session, token }) {
        return { ...session, ownerId: token.ownerId as string | undefined };
      },
    },
  };
}
