"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { WEBHOOK_EVENTS } from "~/server/services/webhooks/events";
import { ErrorNote, Field } from "./form";

function Deliveries({ agentId, webhookId }: { agentId: string; webhookId: string }) {
  const trpc = useTRPC();
  // Deliveries settle within seconds: keep the open log fresh while it is on screen.
  const log = useQuery({ ...trpc.webhooks.deliveries.queryOptions({ agent_id: agentId, webhook_id: webhookId, limit: 20, offset: 0 }), refetchInterval: 2_000 });
  if (log.isPending) return <p className="px-3 py-2 text-xs text-slate-500">Loading deliveries…</p>;
  if (!log.data || log.data.deliveries.length === 0) return <p className="px-3 py-2 text-xs text-slate-500">No deliveries yet.</p>;
  return (
    <table className="w-full text-left text-xs">
      <thead className="text-slate-500">
        <tr>
          <th className="px-3 py-1 font-medium">Event</th>
          <th className="px-3 py-1 font-medium">Job</th>
          <th className="px-3 py-1 font-medium">Status</th>
          <th className="px-3 py-1 font-medium">Attempts</th>
          <th className="px-3 py-1 font-medium">Last answer</th>
        </tr>
      </thead>
      <tbody>
        {log.data.deliveries.map((d) => (
          <tr key={d.delivery_id} data-testid="webhook-delivery" className="border-t border-slate-100">
            <td className="px-3 py-1 font-mono">{d.event}</td>
            <td className="px-3 py-1 font-mono">{d.task_id?.slice(0, 8)}</td>
            <td className={`px-3 py-1 ${d.status === "delivered" ? "text-emerald-700" : d.status === "failed" ? "text-rose-700" : "text-slate-600"}`}>{d.status}</td>
            <td className="px-3 py-1">{d.attempts}</td>
            <td className="px-3 py-1 text-slate-600">{d.last_error ?? d.last_status ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An owned agent's webhooks: add one (its secret shown once), see its deliveries, stop it. */
export function AgentWebhooks({ agentId, active }: { agentId: string; active: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const hooks = useQuery(trpc.webhooks.list.queryOptions({ agent_id: agentId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey({ agent_id: agentId }) });
  const create = useMutation(trpc.webhooks.create.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.webhooks.delete.mutationOptions({ onSuccess: refresh }));
  const [open, setOpen] = useState<string | null>(null);

  return (
    <div className="space-y-2">
      <h4 className="text-sm font-semibold">Webhooks</h4>
      {create.data && (
        <div role="status" className="space-y-1 rounded-md bg-emerald-50 p-3 text-sm ring-1 ring-emerald-200">
          <p className="font-medium text-emerald-900">Signing secret for {create.data.url} — copy it now, it is shown only once:</p>
          <code data-testid="new-webhook-secret" className="block break-all rounded bg-white px-2 py-1 font-mono text-xs">
            {create.data.secret}
          </code>
        </div>
      )}
      {hooks.data && hooks.data.webhooks.length > 0 && (
        <ul className="divide-y divide-slate-100 rounded-md ring-1 ring-slate-200">
          {hooks.data.webhooks.map((w) => (
            <li key={w.webhook_id} data-testid="webhook" className="text-sm">
              <div className="flex flex-wrap items-center gap-3 px-3 py-2">
                <span className="break-all font-mono text-xs">{w.url}</span>
                <span className="text-xs text-slate-500">{w.events.length === WEBHOOK_EVENTS.length ? "all events" : w.events.join(", ")}</span>
                <button onClick={() => setOpen(open === w.webhook_id ? null : w.webhook_id)} className="ml-auto text-xs text-blue-700 hover:underline">
                  {open === w.webhook_id ? "Hide deliveries" : "Deliveries"}
                </button>
                <button onClick={() => remove.mutate({ agent_id: agentId, webhook_id: w.webhook_id })} className="text-xs text-rose-700 hover:underline">
                  Delete
                </button>
              </div>
              {open === w.webhook_id && <Deliveries agentId={agentId} webhookId={w.webhook_id} />}
            </li>
          ))}
        </ul>
      )}
      {active && (
        <form
          className="space-y-2"
          onSubmit={async (e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            const events = WEBHOOK_EVENTS.filter((event) => data.get(event) === "on");
            try {
              await create.mutateAsync({ agent_id: agentId, url: String(data.get("url")), events });
              form.reset();
            } catch {
              // Shown below from create.error.
            }
          }}
        >
          <div className="flex flex-wrap items-end gap-3">
            <div className="min-w-64 flex-1">
              <Field label="Webhook URL" name="url" placeholder="https://…" required />
            </div>
            <button type="submit" disabled={create.isPending} className="rounded-md bg-slate-900 px-3 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50">
              Add webhook
            </button>
          </div>
          <fieldset className="flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600">
            <legend className="sr-only">Events (none ticked: all)</legend>
            {WEBHOOK_EVENTS.map((event) => (
              <label key={event} className="flex items-center gap-1">
                <input type="checkbox" name={event} /> {event}
              </label>
            ))}
            <span className="text-slate-400">none ticked: all events</span>
          </fieldset>
          {create.error && <ErrorNote>{create.error.message}</ErrorNote>}
        </form>
      )}
    </div>
  );
}
