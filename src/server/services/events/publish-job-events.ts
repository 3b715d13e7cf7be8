import { Prisma } from "~/generated/prisma/client";
import type { Db, DbTx } from "~/server/db";
import type { SqlClient } from "~/server/db-sql";
import { afterCommit } from "~/server/after-commit";
import { enqueueSafely } from "~/server/jobs/client";
import { enqueueDeliveryAttempt } from "~/server/services/webhooks/deliver-webhook";
import { buildEventPayload, type JobEventRow } from "./event-payload";
import { listJobAudiences } from "./job-audience";

const BATCH = 200;
// One publisher at a time (any number 64-bit key; this one spells "am:publ").
export const PUBLISH_LOCK = 0x616d3a7075626cn;
/** NOTIFYed when a publication commits; open event streams wake on it (src/server/http/event-stream.ts). */
export const EVENTS_PUBLISHED_CHANNEL = "agent_market_events_published";

/**
 * Every service that writes job events calls this inside its transaction (recordJobEvent, the
 * claim, the expiry): once the transaction commits, a publication is queued through the jobs
 * client, so webhooks and the feed hear of the change at once whichever runner is in use
 * (pg-boss or Inngest). A lost enqueue costs time, not events: the sweep publishes too.
 */
export function publishJobEventsAfterCommit(tx: DbTx | SqlClient | Db): Promise<void> {
  return afterCommit(tx, "publish-job-events", () => enqueueSafely("dispatchWebhooks", {}, { singletonKey: "dispatch" }));
}

/**
 * The outbox. Takes committed, unpublished job events in insertion order and, in one
 * transaction: gives each kind agents are told about its place in the event feed (feed_seq),
 * creates one delivery per subscribed, active webhook of the job's audience (unique per webhook
 * and event, so a repeated publication cannot send twice), and marks every event taken as
 * published. The deliveries are queued once it commits.
 *
 * Why feed_seq and not seq: seq is taken at insert, and a transaction that inserted earlier may
 * commit later, so a reader paging by seq could pass over an event that was not yet visible.
 * Publications run one at a time (an advisory lock held to commit) and each numbers only what
 * had committed before it began, after everything numbered before it: a reader who sees place
 * N has already been able to see every place below N.
 */
export async function publishJobEvents({ db }: { db: Db }): Promise<PublishResult> {
  return db.$transaction(async (tx) => {
    // Not waited for: a publisher queued behind another would hold a connection meanwhile. The
    // caller tries again shortly (busy); what committed after the running one began is its job.
    const [{ locked }] = (await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${PUBLISH_LOCK}) AS locked`) as [{ locked: boolean }];
    if (!locked) return { deliveryIds: [], published: 0, more: false, busy: true };
    const events = await tx.$queryRaw<JobEventRow[]>`
      SELECT id::text AS id, task_id::text AS task_id, kind, from_status::text AS from_status, to_status::text AS to_status, actor, reason, data, created_at
      FROM job_events WHERE webhooks_dispatched_at IS NULL ORDER BY seq LIMIT ${BATCH} FOR UPDATE`;
    if (events.length === 0) return { deliveryIds: [], published: 0, more: false, busy: false };

    const told = events.flatMap((row) => {
      const payload = buildEventPayload(row);
      return payload ? [{ row, payload }] : [];
    });
    const now = new Date();
    if (told.length > 0) {
      const [{ last }] = (await tx.$queryRaw<{ last: bigint }[]>`SELECT COALESCE(MAX(feed_seq), 0)::bigint AS last FROM job_events`) as [{ last: bigint }];
      const places = told.map(({ row }, i) => Prisma.sql`(${row.id}::uuid, ${String(BigInt(last) + BigInt(i + 1))}::bigint)`);
      await tx.$executeRaw`
        UPDATE job_events e SET feed_seq = place.seq FROM (VALUES ${Prisma.join(places)}) AS place(id, seq) WHERE e.id = place.id`;
    }
    await tx.jobEvent.updateMany({ where: { id: { in: events.map((e) => e.id) } }, data: { webhooksDispatchedAt: now } });

    const audiences = await listJobAudiences(tx, [...new Set(told.map(({ row }) => row.task_id))]);
    const agentIds = [...new Set([...audiences.values()].flatMap((agents) => [...agents]))];
    const hooks = agentIds.length ? await tx.webhook.findMany({ where: { agentId: { in: agentIds }, deletedAt: null, status: "active" } }) : [];
    const rows: Prisma.WebhookDeliveryCreateManyInput[] = [];
    for (const { row, payload } of told) {
      const listeners = audiences.get(row.task_id) ?? new Set<string>();
      for (const hook of hooks) {
        if (listeners.has(hook.agentId) && hook.events.includes(payload.event)) {
          rows.push({ webhookId: hook.id, jobEventId: row.id, event: payload.event, payload: payload as unknown as Prisma.InputJsonValue, nextAttemptAt: now });
        }
      }
    }
    const created = rows.length ? await tx.webhookDelivery.createManyAndReturn({ data: rows, skipDuplicates: true, select: { id: true, nextAttemptAt: true } }) : [];
    if (told.length > 0) await tx.$executeRaw`SELECT pg_notify(${EVENTS_PUBLISHED_CHANNEL}, '')`;
    await afterCommit(tx, "enqueue-new-deliveries", async () => {
      for (const delivery of created) await enqueueDeliveryAttempt(delivery);
    });
    return { deliveryIds: created.map((d) => d.id), published: told.length, more: events.length === BATCH, busy: false };
  });
}

export interface PublishResult {
  deliveryIds: string[];
  published: number;
  /** A full batch was taken: publish again. */
  more: boolean;
  /** Another publication was running: try again shortly. */
  busy: boolean;
}
