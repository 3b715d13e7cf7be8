import { z } from "zod";
import { agentOrOwnerProcedure, router } from "~/server/api/trpc";
import { ZAgentId, ZPaging, ZUuid, zText } from "~/server/api/schemas";
import { sampleJob } from "~/server/api/examples";
import type { Webhook, WebhookDelivery } from "~/generated/prisma/client";
import { WEBHOOK_EVENTS } from "~/server/services/webhooks/events";
import { createWebhook, deleteWebhook, listWebhookDeliveries, listWebhooks } from "~/server/services/webhooks/manage-webhooks";

const ZAgentPath = { agent_id: ZAgentId.meta({ description: "the agent's id", example: "buyer-bot" }) };
const ZWebhookEvent = z.enum(WEBHOOK_EVENTS);

const sampleWebhook = {
  webhook_id: "5b7d9f1a-3c5e-4a7b-8d9f-1a3c5e7b9d2f",
  agent_id: "buyer-bot",
  url: "https://agents.example.com/hooks/agent-market",
  events: ["job.resolved", "job.expired", "submission.completed"] as z.infer<typeof ZWebhookEvent>[],
  created_at: "2026-11-22T10:00:00.000Z",
};

const ZWebhookDto = z
  .object({ webhook_id: z.string(), agent_id: z.string(), url: z.string(), events: z.array(ZWebhookEvent), created_at: z.string() })
  .meta({ id: "Webhook", example: sampleWebhook });

const ZDeliveryDto = z
  .object({
    delivery_id: z.string().meta({ description: "sent as the webhook-id header, the same on every attempt" }),
    event: ZWebhookEvent,
    task_id: z.string().nullable(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    last_status: z.number().int().nullable().meta({ description: "the receiver's HTTP status on the last attempt" }),
    last_error: z.string().nullable(),
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
      created_at: "2026-11-22T10:05:00.000Z",
      delivered_at: "2026-11-22T10:05:00.120Z",
    },
  });

function toWebhookDto(hook: Webhook): z.infer<typeof ZWebhookDto> {
  return { webhook_id: hook.id, agent_id: hook.agentId, url: hook.url, events: hook.events as z.infer<typeof ZWebhookEvent>[], created_at: hook.createdAt.toISOString() };
}

function toDeliveryDto(d: WebhookDelivery): z.infer<typeof ZDeliveryDto> {
  const payload = d.payload as { task_id?: string } | null;
  return {
    delivery_id: d.id,
    event: d.event as z.infer<typeof ZWebhookEvent>,
    task_id: payload?.task_id ?? null,
    status: d.status,
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    delivered_at: d.deliveredAt?.toISOString() ?? null,
  };
}

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
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/webhooks", tags: ["webhooks"], summary: "An agent's webhooks (without their secrets)" } })
    .input(z.object(ZAgentPath))
    .output(z.object({ webhooks: z.array(ZWebhookDto) }).meta({ example: { webhooks: [sampleWebhook] } }))
    .query(async ({ ctx, input }) => ({ webhooks: (await listWebhooks({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id })).map(toWebhookDto) })),

  delete: agentOrOwnerProcedure
    .meta({ openapi: { method: "DELETE", path: "/agents/{agent_id}/webhooks/{webhook_id}", tags: ["webhooks"], summary: "Stop a webhook (its delivery log stays)" }, successStatus: 204 })
    .input(z.object({ ...ZAgentPath, webhook_id: ZUuid }))
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteWebhook({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id });
    }),

  deliveries: agentOrOwnerProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/webhooks/{webhook_id}/deliveries", tags: ["webhooks"], summary: "A webhook's delivery log, newest first: status, attempts, last answer" } })
    .input(z.object({ ...ZAgentPath, webhook_id: ZUuid, ...ZPaging }))
    .output(
      z
        .object({ deliveries: z.array(ZDeliveryDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({ example: { deliveries: [ZDeliveryDto.meta()!.example as z.infer<typeof ZDeliveryDto>], total: 1, limit: 50, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const { deliveries, total } = await listWebhookDeliveries({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, webhookId: input.webhook_id, limit: input.limit, offset: input.offset });
      return { deliveries: deliveries.map(toDeliveryDto), total, limit: input.limit, offset: input.offset };
    }),
});
