"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { WEBHOOK_EVENTS } from "~/server/services/webhooks/events";
import { ErrorNote, Field } from "./form";

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");
const statusColour = (status: string) => (status === "delivered" ? "text-emerald-700" : status === "failed" ? "text-rose-700" : "text-slate-600");

/** Every attempt of one delivery: when, what came back, how long, and when the next was due. */
function Attempts({ agentId, webhookId, deliveryId }: { agentId: string; webhookId: string; deliveryId: string }) {
  const trpc = useTRPC();
  const log = useQuery({ ...trpc.webhooks.attempts.queryOptions({ agent_id: agentId, webhook_id: webhookId, delivery_id: deliveryId, limit: 20, offset: 0 }), refetchInterval: 2_000 });
  if (log.isPending) return <p className="text-xs text-slate-500">Loading attempts…</p>;
  if (!log.data || log.data.attempts.length === 0) return <p className="text-xs text-slate-500">Not tried yet.</p>;
  return (
    <ol className="space-y-1">
      {log.data.attempts.map((a) => (
        <li key={a.attempt} data-testid="webhook-attempt" className="rounded bg-slate-50 px-2 py-1 text-xs">
          <div className="flex flex-wrap gap-x-3 gap-y-0.5">
            <span className="font-medium">#{a.attempt}</span>
            <span>{when(a.attempted_at)}</span>
            <span className={a.status_code !== null && a.status_code >= 200 && a.status_code < 300 ? "text-emerald-700" : "text-rose-700"}>{a.status_code ?? "no answer"}</span>
            <span className="text-slate-500">{a.duration_ms} ms</span>
            {a.next_attempt_at && <span className="text-slate-500">next {when(a.next_attempt_at)}</span>}
          </div>
          {a.error && <div className="text-rose-700">{a.error}</div>}
          {a.response_excerpt && <pre className="mt-0.5 max-h-16 overflow-auto whitespace-pre-wrap break-all font-mono text-[11px] text-slate-600">{a.response_excerpt}</pre>}
        </li>
      ))}
    </ol>
  );
}

/** The delivery log of one webhook, newest first; each delivery can be redelivered and opened to its attempts. */
function Deliveries({ agentId, webhookId, canSend }: { agentId: string; webhookId: string; canSend: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Deliveries settle within seconds: keep the open log fresh while it is on screen.
  const log = useQuery({ ...trpc.webhooks.deliveries.queryOptions({ agent_id: agentId, webhook_id: webhookId, limit: 20, offset: 0 }), refetchInterval: 2_000 });
  const redeliver = useMutation(
    trpc.webhooks.redeliver.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.deliveries.queryKey({ agent_id: agentId, webhook_id: webhookId, limit: 20, offset: 0 }) }) }),
  );
  const [open, setOpen] = useState<string | null>(null);
  if (log.isPending) return <p className="px-3 py-2 text-xs text-slate-500">Loading deliveries…</p>;
  if (!log.data || log.data.deliveries.length === 0) return <p className="px-3 py-2 text-xs text-slate-500">No deliveries yet.</p>;
  return (
    <div className="space-y-1 px-3 pb-2">
      {redeliver.error && <ErrorNote>{redeliver.error.message}</ErrorNote>}
      <ul className="divide-y divide-slate-100 rounded ring-1 ring-slate-100">
        {log.data.deliveries.map((d) => (
          <li key={d.delivery_id} data-testid="webhook-delivery" className="px-2 py-1.5 text-xs">
            <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
              <span className="font-mono">{d.event}</span>
              {d.task_id && <span className="font-mono text-slate-500">{d.task_id.slice(0, 8)}</span>}
              <span className={statusColour(d.status)}>{d.status}</span>
              <span className="text-slate-500">
                {d.attempts} {d.attempts === 1 ? "attempt" : "attempts"}
              </span>
              <span className="text-slate-600">{d.last_error ?? d.last_status ?? "—"}</span>
              {d.next_attempt_at && <span className="text-slate-500">next {when(d.next_attempt_at)}</span>}
              <span className="ml-auto flex gap-3">
                <button onClick={() => setOpen(open === d.delivery_id ? null : d.delivery_id)} className="text-blue-700 hover:underline">
                  {open === d.delivery_id ? "Hide attempts" : "Attempts"}
                </button>
                {canSend && (
                  <button
                    onClick={() => redeliver.mutate({ agent_id: agentId, webhook_id: webhookId, delivery_id: d.delivery_id })}
                    disabled={redeliver.isPending}
                    className="text-blue-700 hover:underline disabled:opacity-50"
                  >
                    Redeliver
                  </button>
                )}
              </span>
            </div>
            {open === d.delivery_id && (
              <div className="mt-1">
                <Attempts agentId={agentId} webhookId={webhookId} deliveryId={d.delivery_id} />
              </div>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * An owned agent's webhooks: add one (its secret shown once), see its deliveries and their
 * attempts, redeliver, send a test event, enable one that was disabled, stop it.
 */
export function AgentWebhooks({ agentId, active }: { agentId: string; active: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const hooks = useQuery(trpc.webhooks.list.queryOptions({ agent_id: agentId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey({ agent_id: agentId }) });
  const create = useMutation(trpc.webhooks.create.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.webhooks.delete.mutationOptions({ onSuccess: refresh }));
  const enable = useMutation(trpc.webhooks.enable.mutationOptions({ onSuccess: refresh }));
  const [open, setOpen] = useState<string | null>(null);
  const sendTest = useMutation(trpc.webhooks.test.mutationOptions({ onSuccess: (delivery, input) => setOpen(input.webhook_id) }));

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
      {(sendTest.error ?? enable.error) && <ErrorNote>{(sendTest.error ?? enable.error)!.message}</ErrorNote>}
      {hooks.data && hooks.data.webhooks.length > 0 && (
        <ul className="divide-y divide-slate-100 rounded-md ring-1 ring-slate-200">
          {hooks.data.webhooks.map((w) => {
            const disabled = w.status === "disabled";
            return (
              <li key={w.webhook_id} data-testid="webhook" className="text-sm">
                <div className="flex flex-wrap items-center gap-x-3 gap-y-1 px-3 py-2">
                  <span className="break-all font-mono text-xs">{w.url}</span>
                  <span className={`rounded-full px-2 py-0.5 text-xs ${disabled ? "bg-rose-50 text-rose-700" : "bg-emerald-50 text-emerald-700"}`}>{w.status}</span>
                  <span className="text-xs text-slate-500">{w.events.length === WEBHOOK_EVENTS.length ? "all events" : w.events.join(", ")}</span>
                  <span className="ml-auto flex flex-wrap gap-3 text-xs">
                    <button onClick={() => setOpen(open === w.webhook_id ? null : w.webhook_id)} className="text-blue-700 hover:underline">
                      {open === w.webhook_id ? "Hide deliveries" : "Deliveries"}
                    </button>
                    {active && !disabled && (
                      <button onClick={() => sendTest.mutate({ agent_id: agentId, webhook_id: w.webhook_id })} disabled={sendTest.isPending} className="text-blue-700 hover:underline disabled:opacity-50">
                        Send test event
                      </button>
                    )}
                    <button onClick={() => remove.mutate({ agent_id: agentId, webhook_id: w.webhook_id })} className="text-rose-700 hover:underline">
                      Delete
                    </button>
                  </span>
                </div>
                {disabled && (
                  <div role="alert" data-testid="webhook-disabled" className="mx-3 mb-2 flex flex-wrap items-center gap-2 rounded-md bg-rose-50 px-3 py-2 text-xs text-rose-800">
                    <span>
                      Disabled {when(w.disabled_at)}: {w.disabled_reason}. Nothing is sent to it until you enable it; what it missed can be redelivered below or read from <code>GET /api/v1/events</code>.
                    </span>
                    {active && (
                      <button onClick={() => enable.mutate({ agent_id: agentId, webhook_id: w.webhook_id })} disabled={enable.isPending} className="rounded bg-rose-700 px-2 py-1 font-medium text-white hover:bg-rose-600 disabled:opacity-50">
                        Enable
                      </button>
                    )}
                  </div>
                )}
                {!disabled && w.failing_since && (
                  <p data-testid="webhook-failing" className="mx-3 mb-2 rounded-md bg-amber-50 px-3 py-2 text-xs text-amber-800">
                    Every attempt has failed since {when(w.failing_since)}; after 5 days of failures it is disabled.
                  </p>
                )}
                {sendTest.data && sendTest.variables?.webhook_id === w.webhook_id && (
                  <p role="status" className="mx-3 mb-2 text-xs text-slate-600">
                    Test event queued; it shows in the log below.
                  </p>
                )}
                {open === w.webhook_id && <Deliveries agentId={agentId} webhookId={w.webhook_id} canSend={active && !disabled} />}
              </li>
            );
          })}
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
