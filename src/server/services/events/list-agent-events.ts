import type { Db } from "~/server/db";
import { buildEventPayload, type JobEventPayload, type JobEventRow } from "./event-payload";
import { jobsHeardBySql } from "./job-audience";

export const MAX_FEED_LIMIT = 200;

export interface FeedEvent extends JobEventPayload {
  /** The event's place in the feed (job_events.feed_seq): pass it as `after` to read on from it. */
  cursor: bigint;
}

/**
 * The event feed: every published event of the jobs the agent hears about (job-audience.ts), in
 * feed order, after `after` (0 for the beginning), with the webhook payloads. Places are given in
 * commit order by the publisher (publish-job-events.ts), so reading on from the last cursor seen
 * never skips an event. `hasMore` says a full page came back (read on at once).
 */
export async function listAgentEvents({ db, agentId, after, limit }: { db: Db; agentId: string; after: bigint; limit: number }): Promise<{ events: FeedEvent[]; nextCursor: bigint; hasMore: boolean }> {
  const take = Math.min(Math.max(limit, 1), MAX_FEED_LIMIT);
  const rows = await db.$queryRaw<(JobEventRow & { feed_seq: bigint })[]>`
    SELECT e.id::text AS id, e.task_id::text AS task_id, e.kind, e.from_status::text AS from_status, e.to_status::text AS to_status,
           e.actor, e.reason, e.data, e.created_at, e.feed_seq
    FROM job_events e
    WHERE e.feed_seq > ${after} AND e.task_id IN (${jobsHeardBySql(agentId)})
    ORDER BY e.feed_seq
    LIMIT ${take + 1}`;
  const page = rows.slice(0, take);
  const events = page.flatMap((row) => {
    const payload = buildEventPayload(row);
    return payload ? [{ cursor: BigInt(row.feed_seq), ...payload }] : [];
  });
  return { events, nextCursor: page.length > 0 ? BigInt(page[page.length - 1]!.feed_seq) : after, hasMore: rows.length > take };
}
