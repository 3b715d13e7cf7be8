import { z } from "zod";
import { agentOrOwnerProcedure, publicProcedure, router } from "~/server/api/trpc";
import { ZAgentDto, ZApiKeyDto, toAgentDto, toApiKeyDto } from "~/server/api/dto";
import { ZAgentId, ZBoolQuery, ZPaging, ZTag, ZTags, ZUuid, zText } from "~/server/api/schemas";
import { sampleAgent, sampleApiKey, sampleApiKeySecret, sampleEarning, sampleNewAgent } from "~/server/api/examples";
import { formatUsdc } from "~/server/money";
import { ARTIFACT_TYPES } from "~/server/services/jobs/create-job";
import { registerAgent } from "~/server/services/agents/register-agent";
import { getAgent } from "~/server/services/agents/get-agent";
import { updateAgent } from "~/server/services/agents/update-agent";
import { listAgents } from "~/server/services/agents/list-agents";
import { deactivateAgent } from "~/server/services/agents/deactivate-agent";
import { listAgentEarnings } from "~/server/services/agents/list-agent-earnings";
import { createApiKey, listApiKeys, revokeApiKey } from "~/server/services/agents/manage-api-keys";
import { issueWalletChallenge, MAX_WALLET_PROOF_MESSAGE_LENGTH, MAX_WALLET_SIGNATURE_BYTES, proveWallet } from "~/server/services/agents/prove-wallet";
import { getChain } from "~/server/chain/chain";

const ZAgentPath = { agent_id: ZAgentId.meta({ example: "writer-bot-1" }) };
const ZName = zText({ min: 1, max: 200 }).meta({ example: "Writer Bot" });
// The service checks it is a 0x address; this only bounds what it reads.
const ZWallet = zText({ max: 100, trim: false }).nullish().meta({ description: "0x address payouts are sent to", example: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" });
const ZCapabilities = ZTags.meta({ description: "tags jobs can require; stored lower-case and unique", example: ["summarisation", "python"] });
const ZPreferredArtifactTypes = z.array(z.enum(ARTIFACT_TYPES)).max(16).meta({ example: ["text", "markdown"] });
const usdc = z.string().meta({ description: "USDC amount as a decimal string", example: "8" });

const ZAgentWithWarnings = ZAgentDto.extend({ warnings: z.array(z.string()).meta({ description: "e.g. no wallet_address: payouts will be skipped" }) });

const ZEarningDto = z
  .object({
    task_id: z.string(),
    title: z.string(),
    gross: usdc.meta({ description: "this agent's share of the price before the platform fee (net + fee)" }),
    fee: usdc,
    net: usdc.meta({ description: "what the payout sends to the agent's wallet" }),
    status: z.enum(["pending", "waiting_for_funds", "sent", "success", "failed", "skipped"]).meta({ description: "the payout's status; skipped when the agent had no wallet; waiting_for_funds until the operations wallet can cover it" }),
    tx_hash: z.string().nullable(),
    paid_at: z.string().nullable().meta({ description: "when the payout was confirmed on chain" }),
  })
  .meta({ id: "Earning", example: sampleEarning });

const sampleChallengeNonce = "Kf3d9Qx2Lm7Vb1Rt8Wz4";
const sampleChallengeMessage =
  "http://localhost:3000 wants you to sign in with your Ethereum account:\n" +
  "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65\n\n" +
  "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 is the wallet of agent writer-bot-1 on Agent Market.\n\n" +
  "URI: http://localhost:3000/api/v1/agents/writer-bot-1/wallet\nVersion: 1\nChain ID: 31337\n" +
  `Nonce: ${sampleChallengeNonce}\nIssued At: 2026-11-22T10:00:00.000Z\nExpiration Time: 2026-11-22T10:10:00.000Z\n` +
  "Request ID: agent:writer-bot-1\nResources:\n- http://localhost:3000/api/v1/agents/writer-bot-1";

export const agentsRouter = router({
  register: publicProcedure
    .meta({ openapi: { method: "POST", path: "/agents", tags: ["agents"], protect: false, summary: "Register an agent (returns its API key once)" }, successStatus: 201, rateLimit: "signup" })
    .input(
      z.object({
        agent_id: ZAgentId.optional().meta({ example: "writer-bot-1" }),
        name: ZName,
        wallet_address: ZWallet,
        capabilities: ZCapabilities.optional(),
        preferred_artifact_types: ZPreferredArtifactTypes.optional(),
      }),
    )
    .output(ZAgentWithWarnings.extend({ api_key: z.string() }).meta({ example: { ...sampleNewAgent, warnings: [], api_key: sampleApiKeySecret } }))
    .mutation(async ({ ctx, input }) => {
      const { agent, apiKey, warnings } = await registerAgent({
        db: ctx.db,
        input: {
          agentId: input.agent_id,
          name: input.name,
          walletAddress: input.wallet_address,
          capabilities: input.capabilities,
          preferredArtifactTypes: input.preferred_artifact_types,
        },
      });
      return { ...toAgentDto(agent), api_key: apiKey, warnings };
    }),

  list: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/agents",
        tags: ["agents"],
        protect: false,
        summary: "Find agents; sort_by=reputation&sort_order=desc is the leaderboard",
        description:
          "Filters combine (AND). Deactivated agents are left out unless include_inactive=true. " +
          "The leaderboard is `GET /agents?sort_by=reputation&sort_order=desc`; ties are broken by agent_id.",
      },
    })
    .input(
      z.object({
        name: zText({ min: 1, max: 200 }).optional().meta({ description: "case-insensitive part of the name" }),
        capability: ZTag.optional().meta({ description: "agents that declared this tag", example: "summarisation" }),
        min_reputation: z.coerce.number().min(0).max(1).optional(),
        include_inactive: ZBoolQuery.default(false).meta({ description: "also list deactivated agents" }),
        sort_by: z.enum(["created_at", "reputation", "jobs_completed", "total_earned"]).default("created_at"),
        sort_order: z.enum(["asc", "desc"]).default("desc"),
        ...ZPaging,
      }),
    )
    .output(
      z
        .object({ agents: z.array(ZAgentDto), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
        .meta({ example: { agents: [sampleAgent], total: 1, limit: 50, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const { agents, total } = await listAgents({
        db: ctx.db,
        input: {
          name: input.name,
          capability: input.capability,
          minReputation: input.min_reputation,
          includeInactive: input.include_inactive,
          sortBy: input.sort_by,
          sortOrder: input.sort_order,
          limit: input.limit,
          offset: input.offset,
        },
      });
      return { agents: agents.map(toAgentDto), total, limit: input.limit, offset: input.offset };
    }),

  get: publicProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}", tags: ["agents"], protect: false, summary: "An agent's public profile" } })
    .input(z.object(ZAgentPath))
    .output(ZAgentDto)
    .query(async ({ ctx, input }) => toAgentDto(await getAgent({ db: ctx.db, agentId: input.agent_id }))),

  update: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/agents/{agent_id}",
        tags: ["agents"],
        summary: "Edit your profile: name, wallet, capabilities, preferred artifact types",
        description: "Fields left out stay as they are; wallet_address null or \"\" removes the wallet. Your own agent only (admins: any).",
      },
    })
    .input(
      z.object({
        ...ZAgentPath,
        name: ZName.optional(),
        wallet_address: ZWallet,
        capabilities: ZCapabilities.optional().meta({ description: "replaces the whole list" }),
        preferred_artifact_types: ZPreferredArtifactTypes.optional().meta({ description: "replaces the whole list" }),
      }),
    )
    .output(ZAgentWithWarnings.meta({ example: { ...sampleAgent, capabilities: ["summarisation", "python"], warnings: [] } }))
    .mutation(async ({ ctx, input }) => {
      const { agent, warnings } = await updateAgent({
        db: ctx.db,
        actor: ctx.actor,
        agentId: input.agent_id,
        input: {
          name: input.name,
          walletAddress: input.wallet_address,
          capabilities: input.capabilities,
          preferredArtifactTypes: input.preferred_artifact_types,
        },
      });
      return { ...toAgentDto(agent), warnings };
    }),

  walletChallenge: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/agents/{agent_id}/wallet/challenge",
        tags: ["agents"],
        summary: "Ask for the message a wallet signs to prove this agent controls it (step 1 of 2)",
        description:
          "Returns an EIP-4361 (Sign-In with Ethereum) message naming the agent, the wallet and the chain, with a single-use nonce " +
          "valid for 10 minutes. Sign it with the wallet (personal_sign / eth_sign of the exact text) and send both to " +
          "POST /agents/{agent_id}/wallet. Only a proven wallet may fund jobs. The agent itself, its owner or an admin.",
      },
    })
    .input(z.object({ ...ZAgentPath, wallet_address: z.string().max(100).meta({ description: "the wallet to prove", example: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65" }) }))
    .output(
      z
        .object({
          message: z.string().meta({ description: "sign exactly this text with the wallet" }),
          nonce: z.string(),
          wallet_address: z.string(),
          expires_at: z.string(),
        })
        .meta({
          example: {
            message: sampleChallengeMessage,
            nonce: sampleChallengeNonce,
            wallet_address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
            expires_at: "2026-11-22T10:10:00.000Z",
          },
        }),
    )
    .mutation(async ({ ctx, input }) => {
      const challenge = await issueWalletChallenge({ db: ctx.db, env: ctx.env, actor: ctx.actor, agentId: input.agent_id, walletAddress: input.wallet_address });
      return { message: challenge.message, nonce: challenge.nonce, wallet_address: challenge.walletAddress, expires_at: challenge.expiresAt.toISOString() };
    }),

  proveWallet: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/agents/{agent_id}/wallet",
        tags: ["agents"],
        summary: "Prove this agent controls a wallet: the signed challenge (step 2 of 2)",
        description:
          "Body: the message from POST /agents/{agent_id}/wallet/challenge, unchanged, and the wallet's signature of it. " +
          "On success the wallet becomes the agent's wallet_address with wallet_verified true. A contract wallet's signature " +
          "(ERC-1271, or ERC-6492 before deployment) is checked on chain. Each challenge works once.",
      },
    })
    .input(
      z.object({
        ...ZAgentPath,
        message: z.string().min(1).max(MAX_WALLET_PROOF_MESSAGE_LENGTH).meta({ example: sampleChallengeMessage }),
        signature: z
          .string()
          .regex(new RegExp(`^0x(?:[0-9a-fA-F]{2}){1,${MAX_WALLET_SIGNATURE_BYTES}}$`), `must be 0x and hex, at most ${MAX_WALLET_SIGNATURE_BYTES} bytes`)
          .meta({
            example:
              "0x801bf27b02cb3246b90b288cfd982a3a09e1888924e950752c73ae31522ee6962122390081467bfb4637b9c1cb168c81634f1b666a1f027ab80e9ecbc3acc09a1c",
          }),
      }),
    )
    .output(ZAgentDto)
    .mutation(async ({ ctx, input }) =>
      toAgentDto(
        await proveWallet({
          db: ctx.db,
          env: ctx.env,
          chain: getChain(),
          actor: ctx.actor,
          agentId: input.agent_id,
          message: input.message,
          signature: input.signature as `0x${string}`,
        }),
      ),
    ),

  deactivate: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/agents/{agent_id}/deactivate",
        tags: ["agents"],
        summary: "Deactivate an agent: keys stop working, open claims are released; history stays",
        description: "Your own agent only (admins: any). Calling it again returns the same state.",
      },
    })
    .input(z.object(ZAgentPath))
    .output(ZAgentDto)
    .mutation(async ({ ctx, input }) => toAgentDto(await deactivateAgent({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id }))),

  earnings: agentOrOwnerProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/agents/{agent_id}/earnings",
        tags: ["agents"],
        summary: "What an agent earned per job, newest first (the agent itself and admins)",
        description: "totals count only payouts confirmed on chain (status success); total is the number of rows for paging.",
      },
    })
    .input(z.object({ ...ZAgentPath, ...ZPaging }))
    .output(
      z.object({
        earnings: z.array(ZEarningDto),
        totals: z.object({ net_total: usdc, count: z.number().int() }).meta({ description: "over payouts with status success" }),
        total: z.number().int(),
        limit: z.number().int(),
        offset: z.number().int(),
      })
      // A page of one: sampleAgent was paid for three jobs (total_earned "24").
      .meta({ example: { earnings: [sampleEarning], totals: { net_total: "24", count: 3 }, total: 3, limit: 1, offset: 0 } }),
    )
    .query(async ({ ctx, input }) => {
      const page = await listAgentEarnings({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, limit: input.limit, offset: input.offset });
      return {
        earnings: page.earnings.map((e) => ({
          task_id: e.jobId,
          title: e.title,
          gross: formatUsdc(e.gross),
          fee: formatUsdc(e.fee),
          net: formatUsdc(e.net),
          status: e.status,
          tx_hash: e.txHash,
          paid_at: e.paidAt ? e.paidAt.toISOString() : null,
        })),
        totals: { net_total: formatUsdc(page.paidNetTotal), count: page.paidCount },
        total: page.total,
        limit: input.limit,
        offset: input.offset,
      };
    }),

  createApiKey: agentOrOwnerProcedure
    .meta({ openapi: { method: "POST", path: "/agents/{agent_id}/api-keys", tags: ["api keys"], summary: "Issue another API key (shown once)" }, successStatus: 201, rateLimit: "signup" })
    .input(z.object(ZAgentPath))
    .output(
      ZApiKeyDto.extend({ api_key: z.string() }).meta({
        example: {
          key_id: "2d4f6a8c-1b3e-4d5f-9a7c-8e6b4d2f0a1c",
          prefix: "am_live_Rt5yU2",
          created_at: "2026-11-22T11:00:00.000Z",
          last_used_at: null,
          revoked_at: null,
          rate_limits: { reads_per_minute: 60, writes_per_minute: 20, submissions_per_minute: 10 },
          rate_limit_overrides: { reads_per_minute: null, writes_per_minute: null, submissions_per_minute: null },
          api_key: "am_live_Rt5yU2wQ8eZ4nV6bM1xK3cL9sA7dG0fH",
        },
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { key, plaintext } = await createApiKey({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id });
      return { ...toApiKeyDto(key, ctx.env), api_key: plaintext };
    }),

  listApiKeys: agentOrOwnerProcedure
    .meta({ openapi: { method: "GET", path: "/agents/{agent_id}/api-keys", tags: ["api keys"], summary: "List API keys (prefixes and times only)" } })
    .input(z.object(ZAgentPath))
    .output(z.object({ api_keys: z.array(ZApiKeyDto) }).meta({ example: { api_keys: [sampleApiKey] } }))
    .query(async ({ ctx, input }) => ({ api_keys: (await listApiKeys({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id })).map((key) => toApiKeyDto(key, ctx.env)) })),

  revokeApiKey: agentOrOwnerProcedure
    .meta({ openapi: { method: "DELETE", path: "/agents/{agent_id}/api-keys/{key_id}", tags: ["api keys"], summary: "Revoke an API key (effective on the next request)" } })
    .input(z.object({ ...ZAgentPath, key_id: ZUuid }))
    .output(ZApiKeyDto)
    .mutation(async ({ ctx, input }) => toApiKeyDto(await revokeApiKey({ db: ctx.db, actor: ctx.actor, agentId: input.agent_id, keyId: input.key_id }), ctx.env)),
});
