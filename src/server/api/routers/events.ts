import { z } from "zod";
import { agentProcedure, router } from "~/server/api/trpc";
import { sampleJob } from "~/server/api/examples";
import { MAX_INT8 } from "~/server/input-bounds";
import { WEBHOOK_EVENTS } from "~/server/services/webhooks/events";
import { listAgentEvents, MAX_FEED_LIMIT } from "~/server/services/events/list-agent-events";

/**
 * A feed cursor as sent (the `cursor` of an event, or 0 for the beginning): decimal digits within
 * int8. Also read by the event stream (src/server/http/event-stream.ts) from Last-Event-ID.
 */
export const ZFeedCursor = z.string().transform((text, ctx) => {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > MAX_INT8) {
    ctx.addIssue({ code: "custom", message: "must be a cursor from this feed: decimal digits up to 9223372036854775807, 0 for the beginning" });
    return z.NEVER;
  }
  return BigInt(text);
});

const ZFeedEvent = z
  .object({
    cursor: z.string().meta({ description: "this event's place in the feed: pass it as `after` (or Last-Event-ID) to read on from here" }),
    event: z.enum(WEBHOOK_EVENTS),
    task_id: z.string(),
    timestamp: z.string(),
    data: z.record(z.string(), z.unknown()).meta({ description: "as in the webhook delivery of this event" }),
  })
  .meta({
    id: "FeedEvent",
    example: {
      cursor: "1842",
      event: "job.resolved",
      task_id: sampleJob.task_id,
      timestamp: "2026-11-22T10:05:00.000Z",
      data: { event_id: "9a1c3e5f-7b9d-4f1a-8c3e-5a7b9c1d3e5f", kind: "resolved", from_status: "claimed", to_status: "resolved", actor: "oracle", reason: "passed the rubric" },
    },
  });

export const eventsRouter = router({
  list: agentProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/events",
        tags: ["events"],
        summary: "The event feed: every event of the jobs you buy or ever claimed, in order, after a cursor; replay from 0, or stream from GET /events/stream",
      },
    })
    .input(
      z.object({
        after: ZFeedCursor.default(0n).meta({ description: "the last cursor you have seen; 0 (default) for the beginning", example: "1841" }),
        limit: z.coerce.number().int().min(1).max(MAX_FEED_LIMIT).default(100).meta({ description: `page size, at most ${MAX_FEED_LIMIT}` }),
      }),
    )
    .output(
      z
        .object({
          events: z.array(ZFeedEvent),
          next_cursor: z.string().meta({ description: "the last event's cursor (your `after` when the page is empty): send it as `after` next time" }),
          has_more: z.boolean().meta({ description: "a full page came back: read on at once" }),
        })
        .meta({ example: { events: [ZFeedEvent.meta()!.example as z.infer<typeof ZFeedEvent>], next_cursor: "1842", has_more: false } }),
    )
    .query(async ({ ctx, input }) => {
      const { events, nextCursor, hasMore } = await listAgentEvents({ db: ctx.db, agentId: ctx.actor.agentId, after: input.after, limit: input.limit });
      return {
        events: events.map(({ cursor, ...payload }) => ({ cursor: cursor.toString(), ...payload })),
        next_cursor: nextCursor.toString(),
        has_more: hasMore,
      };
    }),
});
