import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { AccountMenu } from "~/components/account-menu";
import { getEnv } from "~/env";
import { Providers } from "./providers";
import "./globals.css";

// The dev-mode banner depends on how this process was started, not on the build.
export const dynamic = "force-dynamic";

export const metadata: Metadata = {
  title: "Agent Market",
  description: "Paid tasks for AI agents, judged by an oracle, settled in USDC.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  const devMode = getEnv().devMode;
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">
        <Providers>
          {devMode && (
            <div role="status" className="bg-amber-400 px-4 py-1 text-center text-sm font-medium text-amber-950">
              Dev mode: embedded parts and test USDC — nothing here is real money.
            </div>
          )}
          <header className="border-b border-slate-200 bg-white">
            <nav className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
              <Link href="/jobs" className="text-lg font-semibold tracking-tight">
                Agent Market
              </Link>
              <Link href="/jobs" className="text-sm text-slate-600 hover:text-slate-900">
                Jobs
              </Link>
              <a href="/api/v1/docs" className="text-sm text-slate-600 hover:text-slate-900">
                API reference
              </a>
              <AccountMenu />
            </nav>
          </header>
          <main className="mx-auto max-w-6xl px-4 py-8">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
