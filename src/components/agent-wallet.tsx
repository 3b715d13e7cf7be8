"use client";

import { useMutation } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { createWalletClient, custom, getAddress, isAddress, type EIP1193Provider } from "viem";
import { useTRPC } from "~/trpc/react";
import { ErrorNote, Field } from "./form";

declare global {
  interface Window {
    /** An injected browser wallet (EIP-1193), when the visitor has one. */
    ethereum?: EIP1193Provider;
  }
}

interface WalletAgent {
  agent_id: string;
  wallet_address: string | null;
  wallet_verified: boolean;
  wallet_verified_at: string | null;
  active: boolean;
}

/** Whether the agent's wallet is proven, in words and colour. */
function WalletStatus({ agent }: { agent: WalletAgent }) {
  if (!agent.wallet_address) {
    return (
      <p data-testid="wallet-status" className="text-sm text-slate-600">
        <span className="rounded-full bg-zinc-100 px-2 py-0.5 text-xs text-zinc-700">no wallet</span> Payouts are skipped and jobs cannot be funded until a
        wallet is set and proven.
      </p>
    );
  }
  return (
    <p data-testid="wallet-status" className="flex flex-wrap items-center gap-2 text-sm">
      <span className="break-all font-mono text-xs">{agent.wallet_address}</span>
      {agent.wallet_verified ? (
        <span className="rounded-full bg-emerald-50 px-2 py-0.5 text-xs text-emerald-800 ring-1 ring-emerald-200">
          wallet proven{agent.wallet_verified_at ? ` ${new Date(agent.wallet_verified_at).toLocaleString()}` : ""}
        </span>
      ) : (
        <span className="rounded-full bg-amber-50 px-2 py-0.5 text-xs text-amber-900 ring-1 ring-amber-200">wallet not proven</span>
      )}
      {!agent.wallet_verified && <span className="text-xs text-slate-600">It receives payouts, but jobs can be funded only from a proven wallet.</span>}
    </p>
  );
}

/**
 * An owned agent's wallet: is it proven, and a way to prove it. With an injected browser wallet
 * the owner signs the challenge there (personal_sign); without one the page shows the message to
 * sign elsewhere and takes the signature back.
 */
export function AgentWallet({ agent, onProven }: { agent: WalletAgent; onProven: () => void }) {
  const trpc = useTRPC();
  const ids = useId();
  const challenge = useMutation(trpc.agents.walletChallenge.mutationOptions());
  const prove = useMutation(trpc.agents.proveWallet.mutationOptions({ onSuccess: onProven }));
  const [wallet, setWallet] = useState(agent.wallet_address ?? "");
  const [signature, setSignature] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [signing, setSigning] = useState(false);
  // Only known in the browser, after the first render (the server has no window).
  const [injected, setInjected] = useState(false);
  useEffect(() => setInjected(typeof window !== "undefined" && Boolean(window.ethereum)), []);

  const fail = (err: unknown) => setError(err instanceof Error ? err.message : String(err));

  async function getMessage(address: string) {
    setError(null);
    prove.reset();
    return challenge.mutateAsync({ agent_id: agent.agent_id, wallet_address: address });
  }

  async function signWithBrowserWallet() {
    const provider = window.ethereum;
    if (!provider) return;
    setSigning(true);
    try {
      const client = createWalletClient({ transport: custom(provider) });
      const accounts = await client.requestAddresses();
      const wanted = wallet.trim();
      const account = wanted ? accounts.find((a) => isAddress(wanted) && a.toLowerCase() === wanted.toLowerCase()) : accounts[0];
      if (!account) {
        throw new Error(
          accounts.length === 0
            ? "The browser wallet shared no account."
            : `The browser wallet offers ${accounts.join(", ")}; choose ${wanted} there, or clear the address to use ${accounts[0]}.`,
        );
      }
      setWallet(getAddress(account));
      const issued = await getMessage(account);
      const signed = await client.signMessage({ account, message: issued.message });
      await prove.mutateAsync({ agent_id: agent.agent_id, message: issued.message, signature: signed });
    } catch (err) {
      fail(err);
    } finally {
      setSigning(false);
    }
  }

  return (
    <div className="space-y-2">
      <h4 className="text-sm font-semibold">Wallet</h4>
      <WalletStatus agent={agent} />
      {prove.isSuccess && (
        <p role="status" className="text-sm text-emerald-800">
          Proven: <span className="break-all font-mono text-xs">{prove.data.wallet_address}</span> is this agent&apos;s wallet.
        </p>
      )}
      {agent.active && (
        <details className="rounded-md p-3 ring-1 ring-slate-200" open={!agent.wallet_verified && Boolean(agent.wallet_address)}>
          <summary className="cursor-pointer text-sm text-blue-800">{agent.wallet_verified ? "Prove another wallet" : "Prove this agent controls a wallet"}</summary>
          <div className="mt-3 space-y-3">
            <p className="text-xs text-slate-600">
              The wallet signs a message naming this agent and this market&apos;s chain. Nothing is sent on chain and it costs nothing.
            </p>
            <Field label="Wallet to prove" name="wallet" placeholder="0x…" value={wallet} onChange={(e) => setWallet(e.target.value)} autoComplete="off" />
            <div className="flex flex-wrap gap-3">
              {injected && (
                <button type="button" onClick={signWithBrowserWallet} disabled={signing} className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50">
                  {signing ? "Waiting for the wallet…" : "Sign with browser wallet"}
                </button>
              )}
              <button
                type="button"
                onClick={() => getMessage(wallet.trim()).catch(fail)}
                disabled={challenge.isPending || signing}
                className="rounded-md px-3 py-1.5 text-sm font-medium text-slate-900 ring-1 ring-slate-300 hover:bg-slate-50 disabled:opacity-50"
              >
                {injected ? "Sign elsewhere instead" : "Get the message to sign"}
              </button>
            </div>
            {challenge.data && !signing && !prove.isSuccess && (
              <form
                className="space-y-2"
                onSubmit={(e) => {
                  e.preventDefault();
                  setError(null);
                  prove.mutateAsync({ agent_id: agent.agent_id, message: challenge.data.message, signature: signature.trim() }).catch(fail);
                }}
              >
                <label className="block space-y-1" htmlFor={`${ids}-message`}>
                  <span className="text-sm font-medium text-slate-700">
                    Message to sign with <span className="break-all font-mono text-xs">{challenge.data.wallet_address}</span> (personal_sign), valid until{" "}
                    {new Date(challenge.data.expires_at).toLocaleTimeString()}
                  </span>
                </label>
                <textarea
                  id={`${ids}-message`}
                  data-testid="wallet-challenge"
                  readOnly
                  rows={13}
                  value={challenge.data.message}
                  className="block w-full rounded-md border border-slate-300 bg-slate-50 px-3 py-2 font-mono text-xs"
                />
                <Field label="Signature" name="signature" placeholder="0x…" value={signature} onChange={(e) => setSignature(e.target.value)} autoComplete="off" required />
                <button type="submit" disabled={prove.isPending} className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50">
                  Submit signature
                </button>
              </form>
            )}
            {error && <ErrorNote>{error}</ErrorNote>}
          </div>
        </details>
      )}
    </div>
  );
}
