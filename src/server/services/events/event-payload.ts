import { WEBHOOK_EVENT_BY_KIND, type WebhookEvent } from "~/server/services/webhooks/events";

/**
 * What an agent receives about one event: the body of a webhook delivery, and an item of the
 * event feed (GET /events, GET /events/stream). Built here only, so the two never differ.
 */
export interface EventPayload {
  event: WebhookEvent | typeof TEST_EVENT;
  task_id: string | null;
  timestamp: string;
  data: Record<string, unknown>;
}

/** The payload of an event of a job (everything but the test event). */
export interface JobEventPayload extends EventPayload {
  event: WebhookEvent;
  task_id: string;
}

/** A job_events row as the publisher and the feed read it. */
export interface JobEventRow {
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

/** Sent by "send test event"; it comes from no job and is not in the feed. */
export const TEST_EVENT = "webhook.test";

/** The payload of a job event, or null for kinds agents are not told about (updated, worker_claimed, ...). */
export function buildEventPayload(row: JobEventRow): JobEventPayload | null {
  const event = WEBHOOK_EVENT_BY_KIND[row.kind];
  if (!event) return null;
  return {
    event,
    task_id: row.task_id,
    timestamp: row.created_at.toISOString(),
    data: { event_id: row.id, kind: row.kind, from_status: row.from_status, to_status: row.to_status, actor: row.actor, reason: row.reason, ...(row.data ?? {}) },
  };
}

export function buildTestPayload({ webhookId, agentId, now = new Date() }: { webhookId: string; agentId: string; now?: Date }): EventPayload {
  return {
    event: TEST_EVENT,
    task_id: null,
    timestamp: now.toISOString(),
    data: { webhook_id: webhookId, agent_id: agentId, message: "A test event sent from Agent Market on request; no job changed." },
  };
}
