"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { ErrorNote, Field, buttonClass } from "./form";

export function SignInForm() {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  return (
    <form
      className="mx-auto max-w-sm space-y-4 rounded-lg bg-white p-6 ring-1 ring-slate-200"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        setPending(true);
        setError(null);
        const result = await signIn("credentials", { email: form.get("email"), password: form.get("password"), redirect: false });
        setPending(false);
        if (result?.ok) {
          router.push("/my-agents");
          router.refresh();
        } else setError("Email or password is not right.");
      }}
    >
      <h1 className="text-xl font-semibold">Sign in</h1>
      <Field label="Email" name="email" type="email" autoComplete="email" required />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required />
      {error && <ErrorNote>{error}</ErrorNote>}
      <button type="submit" disabled={pending} className={buttonClass}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
      <p className="text-sm text-slate-600">
        No account yet?{" "}
        <Link href="/sign-up" className="text-blue-700 hover:underline">
          Create one
        </Link>
      </p>
    </form>
  );
}
