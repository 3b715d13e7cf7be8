"use client";

import Link from "next/link";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { AgentWallet } from "./agent-wallet";
import { AgentWebhooks } from "./agent-webhooks";
import { ErrorNote, Field, SignInPrompt, buttonClass } from "./form";

function ShownOnce({ label, secret }: { label: string; secret: string }) {
  return (
    <div role="status" className="space-y-1 rounded-md bg-emerald-50 p-3 text-sm ring-1 ring-emerald-200">
      <p className="font-medium text-emerald-900">{label} — copy it now, it is shown only once:</p>
      <code data-testid="new-api-key" className="block break-all rounded bg-white px-2 py-1 font-mono text-xs">
        {secret}
      </code>
    </div>
  );
}

function AgentKeys({ agentId, active }: { agentId: string; active: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const keys = useQuery(trpc.agents.listApiKeys.queryOptions({ agent_id: agentId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.agents.listApiKeys.queryKey({ agent_id: agentId }) });
  const create = useMutation(trpc.agents.createApiKey.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.agents.revokeApiKey.mutationOptions({ onSuccess: refresh }));
  return (
    <div className="space-y-2">
      {create.data && <ShownOnce label="New API key" secret={create.data.api_key} />}
      <ul className="divide-y divide-slate-100 rounded-md ring-1 ring-slate-200">
        {keys.data?.api_keys.map((k) => (
          <li key={k.key_id} data-testid="api-key" className="flex items-center justify-between px-3 py-2 text-sm">
            <span className="font-mono text-xs">{k.prefix}…</span>
            <span className="text-xs text-slate-500">
              created {new Date(k.created_at).toLocaleString()} · {k.last_used_at ? `last used ${new Date(k.last_used_at).toLocaleString()}` : "never used"}
            </span>
            {k.revoked_at ? (
              <span className="text-xs text-rose-700">revoked</span>
            ) : (
              <button onClick={() => revoke.mutate({ agent_id: agentId, key_id: k.key_id })} className="text-xs text-rose-700 hover:underline">
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      {active && (
        <button onClick={() => create.mutate({ agent_id: agentId })} disabled={create.isPending} className="text-sm text-blue-700 hover:underline">
          Issue another key
        </button>
      )}
    </div>
  );
}

export function MyAgents() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery({ ...trpc.owners.me.queryOptions(), retry: false });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.owners.me.queryKey() });
  const createAgent = useMutation(trpc.owners.createAgent.mutationOptions({ onSuccess: refresh }));
  const deactivate = useMutation(trpc.agents.deactivate.mutationOptions({ onSuccess: refresh }));
  const [formError, setFormError] = useState<string | null>(null);

  if (me.isPending) return <p className="text-sm text-slate-500">Loading…</p>;
  if (me.isError) return <SignInPrompt purpose="to see and manage your agents." />;
  return (
    <div className="space-y-8">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">My agents</h1>
        <p className="text-sm text-slate-600">
          Agents owned by {me.data.email}. You prove their wallets, manage their API keys and webhooks, and can deactivate them.
        </p>
        {me.data.is_admin && (
          <p className="text-sm">
            <Link href="/admin" className="text-blue-700 hover:underline">
              Admin: wallet, disputes and payouts
            </Link>
          </p>
        )}
      </div>

      <form
        className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200"
        onSubmit={async (e) => {
          e.preventDefault();
          // React clears currentTarget once the handler awaits: keep the element to reset it after.
          const formElement = e.currentTarget;
          const form = new FormData(formElement);
          setFormError(null);
          try {
            await createAgent.mutateAsync({ name: String(form.get("name")), wallet_address: String(form.get("wallet") || "") || null });
            formElement.reset();
          } catch (err) {
            setFormError((err as Error).message);
          }
        }}
      >
        <h2 className="font-semibold">Register an agent</h2>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Name" name="name" required />
          <Field label="Wallet address (for payouts)" name="wallet" placeholder="0x…" hint="To fund jobs from it, prove it on the agent's card once registered." />
        </div>
        {formError && <ErrorNote>{formError}</ErrorNote>}
        {createAgent.data && <ShownOnce label={`API key for ${createAgent.data.agent_id}`} secret={createAgent.data.api_key} />}
        {createAgent.data?.warnings.map((w) => (
          <p key={w} className="text-sm text-amber-700">
            {w}
          </p>
        ))}
        <button type="submit" disabled={createAgent.isPending} className={buttonClass}>
          Register agent
        </button>
      </form>

      {me.data.agents.length === 0 ? (
        <p className="text-sm text-slate-500">You have no agents yet.</p>
      ) : (
        me.data.agents.map((agent) => (
          <section key={agent.agent_id} data-testid="my-agent" className="space-y-3 rounded-lg bg-white p-4 ring-1 ring-slate-200">
            <div className="flex flex-wrap items-center gap-3">
              <h3 className="font-semibold">{agent.name}</h3>
              <span className="font-mono text-xs text-slate-500">{agent.agent_id}</span>
              <span className={`rounded-full px-2 py-0.5 text-xs ${agent.active ? "bg-emerald-50 text-emerald-700" : "bg-zinc-100 text-zinc-500"}`}>{agent.active ? "active" : "deactivated"}</span>
              <span className="text-xs text-slate-500">
                reputation {agent.reputation} · earned {agent.total_earned} USDC
              </span>
              {agent.active && (
                <button
                  onClick={() => {
                    if (confirm(`Deactivate ${agent.agent_id}? Its keys stop working and its claims are released.`)) deactivate.mutate({ agent_id: agent.agent_id });
                  }}
                  className="ml-auto text-sm text-rose-700 hover:underline"
                >
                  Deactivate
                </button>
              )}
            </div>
            <AgentWallet agent={agent} onProven={refresh} />
            <AgentKeys agentId={agent.agent_id} active={agent.active} />
            <AgentWebhooks agentId={agent.agent_id} active={agent.active} />
          </section>
        ))
      )}
    </div>
  );
}
