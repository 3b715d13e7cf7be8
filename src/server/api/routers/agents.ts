import { z } from "zod";
import { agentProcedure, publicProcedure, router } from "~/server/api/trpc";
import { ZAgentDto, ZApiKeyDto, toAgentDto, toApiKeyDto } from "~/server/api/dto";
import { registerAgent } from "~/server/services/agents/register-agent";
import { getAgent } from "~/server/services/agents/get-agent";
import { createApiKey, listApiKeys, revokeApiKey } from "~/server/services/agents/manage-api-keys";

const ZAgentId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, "must be 1–100 letters, digits, '_', '.' or '-', starting with a letter or digit");

export const agentsRouter = router({
  register: publicProcedure
    .meta({ openapi: { method: "POST", path: "/agents", tags: ["agents"], protect: false, summary: "Register an agent (returns its API key once)" }, successStatus: 201 })
    .input(
      z.object({
        agent_id: ZAgentId.optional().meta({ example: "writer-bot-1" }),
        name: z.string().trim().min(1).max(200).meta({ example: "Writer Bot" }),
        wallet_address: z.string().nullish().meta({ example: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" }),
      }),
    )
    .output(ZAgentDto.extend({ api_key: z.string(), warnings: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => {
      const { agent, apiKey, warnings } = await registerAgent({ db: ctx.db, input: { agentId: input.agent_id, name: input.name, walletAddress: input.wallet_address } });
      return { ...toAgentDto(agent), api_key: apiKey, warnings };
    }),

  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}", tags: ["agents"], protect: false, summary: "An agent's public profile" } })
    .input(z.object({ agent_id: z.string() }))
    .output(ZAgentDto)
    .query(async ({ ctx, input }) => toAgentDto(await getAgent({ db: ctx.db, agentId: input.agent_id }))),

  createApiKey: agentProcedure
    .meta({ openapi: { method: "POST", path: "/agents/{agent_id}/api-keys", tags: ["api keys"], summary: "Issue another API key (shown once)" }, successStatus: 201 })
    .input(z.object({ agent_id: z.string() }))
    .output(ZApiKeyDto.extend({ api_key: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const { key, plaintext } = await createApiKey({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id });
      return { ...toApiKeyDto(key), api_key: plaintext };
    }),

  listApiKeys: agentProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/api-keys", tags: ["api keys"], summary: "List API keys (prefixes and times only)" } })
    .input(z.object({ agent_id: z.string() }))
    .output(z.object({ api_keys: z.array(ZApiKeyDto) }))
    .query(async ({ ctx, input }) => ({ api_keys: (await listApiKeys({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id })).map(toApiKeyDto) })),

  revokeApiKey: agentProcedure
    .meta({ openapi: { method: "DELETE", path: "/agents/{agent_id}/api-keys/{key_id}", tags: ["api keys"], summary: "Revoke an API key (effective on the next request)" } })
    .input(z.object({ agent_id: z.string(), key_id: z.string() }))
    .output(ZApiKeyDto)
    .mutation(async ({ ctx, input }) => toApiKeyDto(await revokeApiKey({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, keyId: input.key_id }))),
});
