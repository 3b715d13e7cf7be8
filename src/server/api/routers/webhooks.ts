import { z } from "zod";
import { agentOrOwnerProcedure, router } from "~/server/api/trpc";
import { ZAgentId, ZPaging, ZUuid, zText } from "~/server/api/schemas";
import { sampleJob } from "~/server/api/examples";
import type { Webhook, WebhookDelivery, WebhookDeliveryAttempt } from "~/generated/prisma/client";
import { WEBHOOK_EVENTS } from "~/server/services/webhooks/events";
import { TEST_EVENT } from "~/server/services/events/event-payload";
import {
  createWebhook,
  deleteWebhook,
  enableWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhookDeliveryAttempts,
  listWebhooks,
  redeliverWebhookDelivery,
  sendTestEvent,
} from "~/server/services/webhooks/manage-webhooks";

const ZAgentPath = { agent_id: ZAgentId.meta({ description: "the agent's id", example: "buyer-bot" }) };
const ZWebhookPath = { ...ZAgentPath, webhook_id: ZUuid };
const ZDeliveryPath = { ...ZWebhookPath, delivery_id: ZUuid };
const ZWebhookEvent = z.enum(WEBHOOK_EVENTS);
/** What a delivery can carry: a subscribable event, or the test event. */
const ZDeliveredEvent = z.enum([...WEBHOOK_EVENTS, TEST_EVENT]);

const sampleWebhook = {
  webhook_id: "5b7d9f1a-3c5e-4a7b-8d9f-1a3c5e7b9d2f",
  agent_id: "buyer-bot",
  url: "https://agents.example.com/hooks/agent-market",
  events: ["job.resolved", "job.expired", "submission.completed"] as z.infer<typeof ZWebhookEvent>[],
  status: "active" as const,
  disabled_at: null,
  disabled_reason: null,
  failing_since: null,
  created_at: "2026-11-22T10:00:00.000Z",
};

const ZWebhookDto = z
  .object({
    webhook_id: z.string(),
    agent_id: z.string(),
    url: z.string(),
    events: z.array(ZWebhookEvent),
    status: z.enum(["active", "disabled"]).meta({ description: "disabled: nothing is sent until it is enabled again (POST …/enable); disabled_reason says why" }),
    disabled_at: z.string().nullable(),
    disabled_reason: z.string().nullable().meta({ description: "e.g. 'the receiver answered 410 Gone', 'every attempt failed for 5 days (since …)'" }),
    failing_since: z.string().nullable().meta({ description: "the first failed attempt since the last success; 5 days of failures disable the webhook" }),
    created_at: z.string(),
  })
  .meta({ id: "Webhook", example: sampleWebhook });

const ZDeliveryDto = z
  .object({
    delivery_id: z.string().meta({ description: "sent as the webhook-id header, the same on every attempt and redelivery" }),
    event: ZDeliveredEvent,
    task_id: z.string().nullable(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    last_status: z.number().int().nullable().meta({ description: "the receiver's HTTP status on the last attempt" }),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable().meta({ description: "when the next attempt is due (pending only)" }),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .meta({
    id: "WebhookDelivery",
    example: {
      delivery_id: "0e2c4a6b-8d1f-4b3a-9c5e-7f9a1b3c5d7e",
      event: "job.resolved",
      task_id: sampleJob.task_id,
      status: "delivered",
      attempts: 1,
      last_status: 200,
      last_error: null,
      next_attempt_at: null,
      created_at: "2026-11-22T10:05:00.000Z",
      delivered_at: "2026-11-22T10:05:00.120Z",
    },
  });

const ZAttemptDto = z
  .object({
    attempt: z.number().int().meta({ description: "1 for the delivery's first attempt; redeliveries go on counting" }),
    attempted_at: z.string(),
    duration_ms: z.number().int(),
    status_code: z.number().int().nullable().meta({ description: "null when the receiver never answered" }),
    error: z.string().nullable(),
    response_excerpt: z.string().nullable().meta({ description: "the start of the receiver's answer, at most 1,000 characters" }),
    next_attempt_at: z.string().nullable().meta({ description: "when the attempt after this one was scheduled; null if this was the last" }),
  })
  .meta({
    id: "WebhookDeliveryAttempt",
    example: {
      attempt: 2,
      attempted_at: "2026-11-22T10:05:05.300Z",
      duration_ms: 84,
      status_code: 503,
      error: "receiver answered 503",
      response_excerpt: "upstream unavailable",
      next_attempt_at: "2026-11-22T10:10:04.900Z",
    },
  });

function toWebhookDto(hook: Webhook): z.infer<typeof ZWebhookDto> {
  return {
    webhook_id: hook.id,
    agent_id: hook.agentId,
    url: hook.url,
    events: hook.events as z.infer<typeof ZWebhookEvent>[],
    status: hook.status,
    disabled_at: hook.disabledAt?.toISOString() ?? null,
    disabled_reason: hook.disabledReason,
    failing_since: hook.failingSince?.toISOString() ?? null,
    created_at: hook.createdAt.toISOString(),
  };
}

function toDeliveryDto(d: WebhookDelivery): z.infer<typeof ZDeliveryDto> {
  const payload = d.payload as { task_id?: string | null } | null;
  return {
    delivery_id: d.id,
    event: d.event as z.infer<typeof ZDeliveredEvent>,
    task_id: payload?.task_id ?? null,
    status: d.status,
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    next_attempt_at: d.status === "pending" ? (d.nextAttemptAt?.toISOString() ?? null) : null,
    created_at: d.createdAt.toISOString(),
    delivered_at: d.deliveredAt?.toISOString() ?? null,
  };
}

function toAttemptDto(a: WebhookDeliveryAttempt): z.infer<typeof ZAttemptDto> {
  return {
    attempt: a.attempt,
    attempted_at: a.attemptedAt.toISOString(),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error: a.error,
    response_excerpt: a.responseExcerpt,
    next_attempt_at: a.nextAttemptAt?.toISOString() ?? null,
  };
}

const queuedDeliveryExample = { ...(ZDeliveryDto.meta()!.example as z.infer<typeof ZDeliveryDto>), status: "pending" as const, attempts: 0, last_status: null, delivered_at: null };

export const webhooksRouter = router({
  create: agentOrOwnerProcedure
    .meta({
      openapi: { method: "POST", path: "/agents/{agent_id}/webhooks", tags: ["webhooks"], summary: "Subscribe a URL to events of the jobs this agent buys or works on (the secret is shown once)" },
      successStatus: 201,
    })
    .input(
      z.object({
        ...ZAgentPath,
        url: zText({ min: 1, max: 2000, trim: false }).meta({ description: "where to POST; https outside dev mode", example: sampleWebhook.url }),
        events: z.array(ZWebhookEvent).max(WEBHOOK_EVENTS.length).default([]).meta({ description: "which events; empty or absent for all", example: sampleWebhook.events }),
      }),
    )
    .output(
      ZWebhookDto.extend({ secret: z.string().meta({ description: "whsec_…: verify each delivery's webhook-signature with it (Standard Webhooks)" }) }).meta({
        example: { ...sampleWebhook, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const hook = await createWebhook({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, url: input.url, events: input.events });
      return { ...toWebhookDto(hook), secret: hook.secret };
    }),

  list: agentOrOwnerProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/webhooks", tags: ["webhooks"], summary: "An agent's webhooks (without their secrets), each with its status: a disabled one says why" } })
    .input(z.object(ZAgentPath))
    .output(z.object({ webhooks: z.array(ZWebhookDto) }).meta({ example: { webhooks: [sampleWebhook] } }))
    .query(async ({ ctx, input }) => ({ webhooks: (await listWebhooks({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id })).map(toWebhookDto) })),

  get: agentOrOwnerProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/webhooks/{webhook_id}", tags: ["webhooks"], summary: "One webhook and its status (without its secret)" } })
    .input(z.object(ZWebhookPath))
    .output(ZWebhookDto)
    .query(async ({ ctx, input }) => toWebhookDto(await getWebhook({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id }))),

  delete: agentOrOwnerProcedure
    .meta({ openapi: { method: "DELETE", path: "/agents/{agent_id}/webhooks/{webhook_id}", tags: ["webhooks"], summary: "Stop a webhook (its delivery log stays)" }, successStatus: 204 })
    .input(z.object(ZWebhookPath))
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteWebhook({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id });
    }),

  enable: agentOrOwnerProcedure
    .meta({
      openapi: { method: "POST", path: "/agents/{agent_id}/webhooks/{webhook_id}/enable", tags: ["webhooks"], summary: "Send to a disabled webhook again, from the next event on (redeliver, or read GET /events, for what it missed)" },
    })
    .input(z.object(ZWebhookPath))
    .output(ZWebhookDto)
    .mutation(async ({ ctx, input }) => toWebhookDto(await enableWebhook({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id }))),

  test: agentOrOwnerProcedure
    .meta({
      openapi: { method: "POST", path: "/agents/{agent_id}/webhooks/{webhook_id}/test", tags: ["webhooks"], summary: "Send a signed webhook.test event to the webhook now (202; follow it in the delivery log)" },
      successStatus: 202,
    })
    .input(z.object(ZWebhookPath))
    .output(ZDeliveryDto.meta({ example: { ...queuedDeliveryExample, event: TEST_EVENT, task_id: null } }))
    .mutation(async ({ ctx, input }) => toDeliveryDto(await sendTestEvent({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id }))),

  deliveries: agentOrOwnerProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/webhooks/{webhook_id}/deliveries", tags: ["webhooks"], summary: "A webhook's delivery log, newest first: status, attempts, last answer, next attempt" } })
    .input(z.object({ ...ZWebhookPath, ...ZPaging }))
    .output(
      z
        .object({ deliveries: z.array(ZDeliveryDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({ example: { deliveries: [ZDeliveryDto.meta()!.example as z.infer<typeof ZDeliveryDto>], total: 1, limit: 50, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const { deliveries, total } = await listWebhookDeliveries({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id, limit: input.limit, offset: input.offset });
      return { deliveries: deliveries.map(toDeliveryDto), total, limit: input.limit, offset: input.offset };
    }),

  attempts: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/agents/{agent_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/attempts",
        tags: ["webhooks"],
        summary: "Every attempt of one delivery, newest first: time, status, answer excerpt, duration, next attempt",
      },
    })
    .input(z.object({ ...ZDeliveryPath, ...ZPaging }))
    .output(
      z
        .object({ delivery: ZDeliveryDto, attempts: z.array(ZAttemptDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({
          example: {
            delivery: { ...queuedDeliveryExample, attempts: 2, last_status: 503, last_error: "receiver answered 503", next_attempt_at: "2026-11-22T10:10:04.900Z" },
            attempts: [ZAttemptDto.meta()!.example as z.infer<typeof ZAttemptDto>],
            total: 2,
            limit: 50,
            offset: 0,
          },
        }),
    )
    .query(async ({ ctx, input }) => {
      const { delivery, attempts, total } = await listWebhookDeliveryAttempts({
        db: ctx.db,
        actor: ctx.actor,
        agentId: input.agent_id,
        webhookId: input.webhook_id,
        deliveryId: input.delivery_id,
        limit: input.limit,
        offset: input.offset,
      });
      return { delivery: toDeliveryDto(delivery), attempts: attempts.map(toAttemptDto), total, limit: input.limit, offset: input.offset };
    }),

  redeliver: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/agents/{agent_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        tags: ["webhooks"],
        summary: "Send a delivery again now, same payload and webhook-id, with a fresh retry schedule (202)",
      },
      successStatus: 202,
    })
    .input(z.object(ZDeliveryPath))
    .output(ZDeliveryDto.meta({ example: { ...queuedDeliveryExample, attempts: 1 } }))
    .mutation(async ({ ctx, input }) =>
      toDeliveryDto(await redeliverWebhookDelivery({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id, deliveryId: input.delivery_id })),
    ),
});
