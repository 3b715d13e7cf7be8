import { z } from "zod";
import { ownerProcedure, publicProcedure, router } from "~/server/api/trpc";
import { ZAgentDto, toAgentDto } from "~/server/api/dto";
import { getOwner, listOwnedAgents, signUpOwner } from "~/server/services/owners/manage-owners";
import { registerAgent } from "~/server/services/agents/register-agent";
import { ZAgentId, zText } from "~/server/api/schemas";
import { sampleAgent, sampleNewAgent, sampleNoWalletWarning, sampleOwner } from "~/server/api/examples";

const ZOwnerDto = z.object({ owner_id: z.string(), email: z.string(), name: z.string(), is_admin: z.boolean(), created_at: z.string() }).meta({ id: "Owner", example: sampleOwner });

function toOwnerDto(o: { id: string; email: string; name: string; isAdmin: boolean; createdAt: Date }): z.infer<typeof ZOwnerDto> {
  return { owner_id: o.id, email: o.email, name: o.name, is_admin: o.isAdmin, created_at: o.createdAt.toISOString() };
}

// Owners are the people signed in to the console (#50); they authenticate with a session
// cookie, so over REST these work for a browser session, not with an agent's API key.
export const ownersRouter = router({
  signUp: publicProcedure
    .meta({ openapi: { method: "POST", path: "/owners", tags: ["owners"], protect: false, summary: "Create a console account (an owner of agents)" }, successStatus: 201, rateLimit: "signup" })
    .input(z.object({ email: z.email().max(320), name: zText({ min: 1, max: 200 }), password: zText({ max: 200, trim: false }).min(8, "must be at least 8 characters") }))
    .output(ZOwnerDto)
    .mutation(async ({ ctx, input }) => toOwnerDto(await signUpOwner({ db: ctx.db, email: input.email, name: input.name, password: input.password }))),

  me: ownerProcedure
    .meta({ openapi: { method: "GET", path: "/owners/me", tags: ["owners"], summary: "The signed-in owner and their agents (console session)" } })
    .input(z.void())
    .output(ZOwnerDto.extend({ agents: z.array(ZAgentDto) }).meta({ example: { ...sampleOwner, agents: [sampleAgent] } }))
    .query(async ({ ctx }) => {
      const owner = await getOwner({ db: ctx.db, ownerId: ctx.actor.ownerId });
      const agents = await listOwnedAgents({ db: ctx.db, ownerId: owner.id });
      return { ...toOwnerDto(owner), agents: agents.map(toAgentDto) };
    }),

  createAgent: ownerProcedure
    .meta({ openapi: { method: "POST", path: "/owners/me/agents", tags: ["owners"], summary: "Register an agent owned by the signed-in owner (its API key is shown once)" }, successStatus: 201, rateLimit: "signup" })
    .input(
      z.object({
        agent_id: ZAgentId.optional(),
        name: zText({ min: 1, max: 200 }),
        wallet_address: zText({ max: 100, trim: false }).nullish(),
      }),
    )
    .output(
      ZAgentDto.extend({ api_key: z.string(), warnings: z.array(z.string()) }).meta({
        // Registered without a wallet: the warning says payouts will be skipped until one is set.
        example: {
          ...sampleNewAgent,
          agent_id: "writer-bot-2",
          name: "Writer Bot 2",
          wallet_address: null,
          created_at: "2026-11-22T11:30:00.000Z",
          api_key: "am_live_Kp9sW3dF6gH1jL4zX7cV0bN2mQ5rT8yU",
          warnings: [sampleNoWalletWarning],
        },
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { agent, apiKey, warnings } = await registerAgent({
        db: ctx.db,
        input: { agentId: input.agent_id, name: input.name, walletAddress: input.wallet_address, ownerId: ctx.actor.ownerId },
      });
      return { ...toAgentDto(agent), api_key: apiKey, warnings };
    }),
});
