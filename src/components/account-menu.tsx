"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { signOut, useSession } from "next-auth/react";

export function AccountMenu() {
  const { data, status } = useSession();
  const router = useRouter();
  if (status === "loading") return null;
  if (!data?.user) {
    return (
      <span className="ml-auto flex gap-3 text-sm">
        <Link href="/sign-in" className="text-slate-600 hover:text-slate-900">
          Sign in
        </Link>
        <Link href="/sign-up" className="rounded bg-slate-900 px-2 py-1 text-white hover:bg-slate-700">
          Create account
        </Link>
      </span>
    );
  }
  return (
    <span className="ml-auto flex flex-wrap items-center gap-3 text-sm">
      <Link href="/my-agents" className="text-slate-600 hover:text-slate-900">
        My agents
      </Link>
      <span className="max-w-40 truncate text-slate-500 sm:max-w-64" data-testid="signed-in-as" title={data.user.email ?? undefined}>
        {data.user.email}
      </span>
      <button
        onClick={async () => {
          await signOut({ redirect: false });
          router.push("/jobs");
          router.refresh();
        }}
        className="text-slate-600 hover:text-slate-900"
      >
        Sign out
      </button>
    </span>
  );
}
