import type { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { WEBHOOK_EVENT_BY_KIND } from "./events";

const BATCH = 200;

interface EventRow {
  id: string;
  task_id: string;
  kind: string;
  from_status: string | null;
  to_status: string | null;
  actor: string;
  reason: string | null;
  data: Record<string, unknown> | null;
  created_at: Date;
}

/**
 * The outbox: turns committed job events into one delivery per subscribed webhook, then marks
 * the events dispatched, in one transaction. Events are claimed with SKIP LOCKED, so two
 * dispatchers never take the same ones, and a delivery is unique per (webhook, event), so a
 * repeated dispatch cannot send twice. Who hears about a job: its buyer and every agent that
 * ever claimed it. Returns the new deliveries' ids (to send) and whether events remain.
 */
export async function dispatchWebhookEvents({ db }: { db: Db }): Promise<{ deliveryIds: string[]; more: boolean }> {
  return db.$transaction(async (tx) => {
    const events = await tx.$queryRaw<EventRow[]>`
      SELECT id, task_id, kind, from_status, to_status, actor, reason, data, created_at FROM job_events
      WHERE webhooks_dispatched_at IS NULL ORDER BY seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`;
    if (events.length === 0) return { deliveryIds: [], more: false };
    const relevant = events.filter((e) => WEBHOOK_EVENT_BY_KIND[e.kind]);
    const taskIds = [...new Set(relevant.map((e) => e.task_id))];
    const jobs = await tx.job.findMany({ where: { id: { in: taskIds } }, select: { id: true, buyerId: true, participants: { select: { workerId: true } } } });
    const audience = new Map(jobs.map((j) => [j.id, new Set([j.buyerId, ...j.participants.map((p) => p.workerId)])]));
    const agentIds = [...new Set(jobs.flatMap((j) => [...audience.get(j.id)!]))];
    const hooks = agentIds.length ? await tx.webhook.findMany({ where: { agentId: { in: agentIds }, deletedAt: null } }) : [];

    const rows: Prisma.WebhookDeliveryCreateManyInput[] = [];
    for (const e of relevant) {
      const event = WEBHOOK_EVENT_BY_KIND[e.kind]!;
      const listeners = audience.get(e.task_id) ?? new Set<string>();
      const payload = {
        event,
        task_id: e.task_id,
        timestamp: e.created_at.toISOString(),
        data: { event_id: e.id, kind: e.kind, from_status: e.from_status, to_status: e.to_status, actor: e.actor, reason: e.reason, ...(e.data ?? {}) },
      };
      for (const hook of hooks) {
        if (listeners.has(hook.agentId) && hook.events.includes(event)) rows.push({ webhookId: hook.id, jobEventId: e.id, event, payload });
      }
    }
    const created = rows.length ? await tx.webhookDelivery.createManyAndReturn({ data: rows, skipDuplicates: true, select: { id: true } }) : [];
    await tx.jobEvent.updateMany({ where: { id: { in: events.map((e) => e.id) } }, data: { webhooksDispatchedAt: new Date() } });
    return { deliveryIds: created.map((d) => d.id), more: events.length === BATCH };
  });
}
