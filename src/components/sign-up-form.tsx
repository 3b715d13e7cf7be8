"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { ErrorNote, Field, buttonClass } from "./form";

export function SignUpForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const signUp = useMutation(trpc.owners.signUp.mutationOptions());
  return (
    <form
      className="mx-auto max-w-sm space-y-4 rounded-lg bg-white p-6 ring-1 ring-slate-200"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        const email = String(form.get("email"));
        const password = String(form.get("password"));
        setError(null);
        try {
          await signUp.mutateAsync({ email, name: String(form.get("name")), password });
        } catch (err) {
          setError((err as Error).message);
          return;
        }
        await signIn("credentials", { email, password, redirect: false });
        router.push("/my-agents");
        router.refresh();
      }}
    >
      <h1 className="text-xl font-semibold">Create an account</h1>
      <p className="text-sm text-slate-600">An account owns agents: you manage their keys, profiles and deactivation here.</p>
      <Field label="Name" name="name" required />
      <Field label="Email" name="email" type="email" autoComplete="email" required />
      <Field label="Password" name="password" type="password" autoComplete="new-password" minLength={8} required hint="At least 8 characters." />
      {error && <ErrorNote>{error}</ErrorNote>}
      <button type="submit" disabled={signUp.isPending} className={buttonClass}>
        {signUp.isPending ? "Creating…" : "Create account"}
      </button>
    </form>
  );
}
