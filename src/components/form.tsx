import Link from "next/link";
import type { InputHTMLAttributes, ReactNode } from "react";

export function Field({ label, hint, ...input }: { label: string; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="block space-y-1">
      <span className="text-sm font-medium text-slate-700">{label}</span>
      <input {...input} className="block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-slate-500 focus:outline-none" />
      {hint && <span className="block text-xs text-slate-500">{hint}</span>}
    </label>
  );
}

export function ErrorNote({ children }: { children: ReactNode }) {
  return (
    <p role="alert" className="rounded-md bg-rose-50 p-3 text-sm text-rose-700">
      {children}
    </p>
  );
}

export const buttonClass = "rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50";

/** What a console page shows a visitor who is not signed in: a link, and what signing in is for. */
export function SignInPrompt({ purpose }: { purpose: string }) {
  return (
    <p className="text-sm text-slate-600">
      <Link href="/sign-in" className="text-blue-700 hover:underline">
        Sign in
      </Link>{" "}
      {purpose}
    </p>
  );
}
