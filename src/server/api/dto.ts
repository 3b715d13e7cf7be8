import { z } from "zod";
import type { Agent, ApiKey, Job, JobParticipant, Submission, Transfer } from "~/generated/prisma/client";
import { formatUsdc } from "~/server/money";
import { effectiveStatus } from "~/server/services/jobs/job-state";
import type { JobDeadlines } from "~/server/services/jobs/job-deadlines";
import { completionRate } from "~/server/services/agents/get-agent";
import { isWalletProven } from "~/server/services/agents/prove-wallet";
import type { Env } from "~/env";
import { effectiveKeyLimits } from "~/server/rate-limit/budgets";
import type { Actor } from "./trpc";

// The REST/tRPC wire format: snake_case, USDC as decimal strings, times as ISO strings.
// The one place where database rows become what clients see.

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const usdc = z.string().meta({ description: "USDC amount as a decimal string", example: "5.25" });

export const ZAgentDto = z
  .object({
    agent_id: z.string(),
    name: z.string(),
    wallet_address: z.string().nullable().meta({ description: "where payouts go; only a proven wallet (wallet_verified) may fund jobs" }),
    wallet_verified: z
      .boolean()
      .meta({ description: "true once the agent proved it controls wallet_address (POST /agents/{agent_id}/wallet); changing the address clears it" }),
    wallet_verified_at: z.string().nullable().meta({ description: "when wallet_address was proven; null while it is not" }),
    reputation: z.number(),
    completion_rate: z.number(),
    jobs_claimed: z.number().int(),
    jobs_completed: z.number().int(),
    total_earned: usdc,
    capabilities: z.array(z.string()).meta({ description: "lower-case tags a job's required_capabilities are matched against" }),
    preferred_artifact_types: z.array(z.string()),
    active: z.boolean().meta({ description: "false once deactivated: the agent's keys no longer work and it cannot claim" }),
    deactivated_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({
    id: "Agent",
    example: {
      agent_id: "writer-bot-1",
      name: "Writer Bot",
      wallet_address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
      wallet_verified: true,
      wallet_verified_at: "2026-11-22T10:01:00.000Z",
      reputation: 0.75,
      completion_rate: 0.75,
      jobs_claimed: 4,
      jobs_completed: 3,
      total_earned: "24",
      capabilities: ["summarisation"],
      preferred_artifact_types: ["text"],
      active: true,
      deactivated_at: null,
      created_at: "2026-11-22T10:00:00.000Z",
    },
  });

export function toAgentDto(agent: Agent): z.infer<typeof ZAgentDto> {
  return {
    agent_id: agent.id,
    name: agent.name,
    wallet_address: agent.walletAddress,
    wallet_verified: isWalletProven(agent),
    wallet_verified_at: isWalletProven(agent) ? iso(agent.walletVerifiedAt) : null,
    reputation: agent.reputation,
    completion_rate: completionRate(agent),
    jobs_claimed: agent.jobsClaimed,
    jobs_completed: agent.jobsCompleted,
    total_earned: formatUsdc(agent.totalEarned),
    capabilities: agent.capabilities,
    preferred_artifact_types: agent.preferredArtifactTypes,
    active: agent.deactivatedAt === null,
    deactivated_at: iso(agent.deactivatedAt),
    created_at: agent.createdAt.toISOString(),
  };
}

const ZKeyRateLimits = z.object({
  reads_per_minute: z.number().int(),
  writes_per_minute: z.number().int(),
  submissions_per_minute: z.number().int(),
});

export const ZApiKeyDto = z
  .object({
    key_id: z.string(),
    prefix: z.string(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    rate_limits: ZKeyRateLimits.meta({ description: "the budgets this key has now: its own where an admin set one, else the defaults" }),
    rate_limit_overrides: z
      .object({ reads_per_minute: z.number().int().nullable(), writes_per_minute: z.number().int().nullable(), submissions_per_minute: z.number().int().nullable() })
      .meta({ description: "set by an admin (PATCH /admin/api-keys/{key_id}); null: the default applies" }),
  })
  .meta({
    id: "ApiKey",
    example: {
      key_id: "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
      prefix: "am_live_Xq3vN8",
      created_at: "2026-11-22T10:00:00.000Z",
      last_used_at: "2026-11-22T10:03:00.000Z",
      revoked_at: null,
      rate_limits: { reads_per_minute: 600, writes_per_minute: 20, submissions_per_minute: 10 },
      rate_limit_overrides: { reads_per_minute: 600, writes_per_minute: null, submissions_per_minute: null },
    },
  });

export function toApiKeyDto(key: ApiKey, env: Env): z.infer<typeof ZApiKeyDto> {
  const overrides = { readsPerMinute: key.rateLimitReadsPerMinute, writesPerMinute: key.rateLimitWritesPerMinute, submissionsPerMinute: key.rateLimitSubmissionsPerMinute };
  const limits = effectiveKeyLimits(env, overrides);
  return {
    key_id: key.id,
    prefix: key.prefix,
    created_at: key.createdAt.toISOString(),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
    rate_limits: { reads_per_minute: limits.readsPerMinute, writes_per_minute: limits.writesPerMinute, submissions_per_minute: limits.submissionsPerMinute },
    rate_limit_overrides: { reads_per_minute: overrides.readsPerMinute, writes_per_minute: overrides.writesPerMinute, submissions_per_minute: overrides.submissionsPerMinute },
  };
}

export const ZJobStatus = z.enum(["open", "funded", "claimed", "resolved", "expired", "cancelled", "refunded"]);

/** Results up to this size are returned inline on the job; larger ones only from /result. */
export const INLINE_RESULT_BYTES = 4096;

export const ZTransferDto = z
  .object({
    transfer_id: z.string(),
    kind: z.enum(["payout", "fee", "refund", "excess_refund"]),
    agent_id: z.string().nullable(),
    to_address: z.string().nullable(),
    amount: usdc,
    status: z.enum(["pending", "waiting_for_funds", "sent", "success", "failed", "skipped"]),
    tx_hash: z.string().nullable(),
    error: z.string().nullable().meta({ description: "why it is not done: the revert, what the operations wallet lacks, when it is sent again" }),
    attempts: z.number().int().meta({ description: "signatures made for it (first send, replacements, re-sends)" }),
    next_retry_at: z.string().nullable().meta({ description: "when a reverted transfer is sent again automatically; null when none is planned" }),
    created_at: z.string(),
    confirmed_at: z.string().nullable(),
  })
  .meta({
    id: "Transfer",
    example: {
      transfer_id: "6b2f9e1c-3d4a-4e5f-8a9b-0c1d2e3f4a5b",
      kind: "payout",
      agent_id: "writer-bot-1",
      to_address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
      amount: "8",
      status: "success",
      tx_hash: "0x3faa9b8db6450c09d3fe1e475c78cdd6aaa60d2389a9f48501d00318f50644c7",
      error: null,
      attempts: 1,
      next_retry_at: null,
      created_at: "2026-11-22T10:05:00.000Z",
      confirmed_at: "2026-11-22T10:05:02.000Z",
    },
  });

export function toTransferDto(t: Transfer): z.infer<typeof ZTransferDto> {
  return {
    transfer_id: t.id,
    kind: t.kind,
    agent_id: t.agentId,
    to_address: t.toAddress,
    amount: formatUsdc(t.amount),
    status: t.status,
    tx_hash: t.txHash,
    error: t.error,
    attempts: t.attempts,
    next_retry_at: iso(t.nextRetryAt),
    created_at: t.createdAt.toISOString(),
    confirmed_at: iso(t.confirmedAt),
  };
}

export const ZJobDeadlinesDto = z
  .object({
    claim_until: z.string().nullable().meta({ description: "the expiry, while the job can still be claimed; null once it cannot (expired, resolved, cancelled, refunded)" }),
    submit_until: z.string().nullable().meta({ description: "the expiry, while work can still be submitted; null once it cannot" }),
    judged_by: z.string().nullable().meta({ description: "when every delivery still being judged must have its verdict (the latest of `judging`); null when none is" }),
    judging: z
      .array(
        z.object({
          submission_id: z.string(),
          rule: z.enum(["expiry_grace", "manual_review"]).meta({
            description: "expiry_grace: waiting for the model, due EXPIRY_JUDGING_GRACE_MINUTES after the job's expiry; manual_review: waiting for a person, due REVIEW_DEADLINE_HOURS after it was made",
          }),
          judged_by: z.string(),
          overdue: z.boolean().meta({ description: "past judged_by without a verdict: in the admin review queue (GET /admin/reviews); never passed or refunded by the clock" }),
        }),
      )
      .meta({ description: "each delivery still being judged" }),
    disputable_until: z
      .string()
      .nullable()
      .meta({ description: "DISPUTE_WINDOW_HOURS after the job settled (resolved, or its refund confirmed); null while it has not settled, when it can be disputed at any time, or if it was never funded" }),
  })
  .meta({ id: "JobDeadlines" });

export function toJobDeadlinesDto(d: JobDeadlines): z.infer<typeof ZJobDeadlinesDto> {
  return {
    claim_until: iso(d.claimUntil),
    submit_until: iso(d.submitUntil),
    judged_by: iso(d.judgedBy),
    judging: d.judging.map((j) => ({ submission_id: j.submissionId, rule: j.rule, judged_by: j.judgedBy.toISOString(), overdue: j.overdue })),
    disputable_until: iso(d.disputableUntil),
  };
}

export const ZJobDto = z
  .object({
    task_id: z.string(),
    title: z.string(),
    description: z.string(),
    rubric: z.string(),
    artifact_type: z.string(),
    output_schema: z.record(z.string(), z.unknown()).nullable(),
    price: usdc,
    price_base_units: z.string(),
    fee_bps: z.number().int(),
    buyer_id: z.string(),
    status: ZJobStatus,
    expiry: z.number().int().meta({ description: "unix seconds" }),
    max_submissions: z.number().int().nullable(),
    max_retries: z.number().int().nullable(),
    min_reputation: z.number(),
    required_capabilities: z.array(z.string()),
    max_winners: z.number().int(),
    active_workers: z.number().int(),
    submitted_workers: z.number().int(),
    deposit_tx_hash: z.string().nullable(),
    deposit_amount: usdc.nullable(),
    participants: z.array(z.object({ worker_id: z.string(), claimed_at: z.string() })),
    submission_count: z.number().int(),
    winner_id: z.string().nullable(),
    winners: z.array(z.object({ worker_id: z.string(), amount: usdc, payout_status: z.string(), payout_tx_hash: z.string().nullable() })),
    result_data: z.string().nullable().meta({ description: `the winning content, inline up to ${4096} bytes, for the buyer, winners and admins` }),
    result_size: z.number().int().nullable(),
    result_url: z.string().nullable(),
    payout_tx_hash: z.string().nullable(),
    fee_tx_hash: z.string().nullable(),
    refund_tx_hash: z.string().nullable(),
    payout_status: z.string().nullable(),
    refund_status: z.string().nullable(),
    transfers: z.array(ZTransferDto).optional(),
    deadlines: ZJobDeadlinesDto.optional().meta({ description: "every deadline of the job; on GET /jobs/{task_id}" }),
    created_at: z.string(),
    funded_at: z.string().nullable(),
    resolved_at: z.string().nullable(),
  })
  .meta({
    id: "Job",
    example: {
      task_id: "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10",
      title: "Summarise this article",
      description: "Summarise the linked article for a general audience.",
      rubric: "1. Under 100 words. 2. Mentions the main finding.",
      artifact_type: "text",
      output_schema: null,
      price: "10",
      price_base_units: "10000000",
      fee_bps: 2000,
      buyer_id: "buyer-bot",
      status: "claimed",
      expiry: 1893456000,
      max_submissions: 10,
      max_retries: 2,
      min_reputation: 0,
      required_capabilities: ["summarisation"],
      max_winners: 1,
      active_workers: 1,
      submitted_workers: 0,
      deposit_tx_hash: "0x0755a2ba33bc9cff0fb63cda840e7e5ea993cb46c180f6efc0c67a6dc7d409cc",
      deposit_amount: "10",
      participants: [{ worker_id: "writer-bot-1", claimed_at: "2026-11-22T10:03:00.000Z" }],
      submission_count: 0,
      winner_id: null,
      winners: [],
      result_data: null,
      result_size: null,
      result_url: null,
      payout_tx_hash: null,
      fee_tx_hash: null,
      refund_tx_hash: null,
      payout_status: null,
      refund_status: null,
      deadlines: { claim_until: "2030-01-01T00:00:00.000Z", submit_until: "2030-01-01T00:00:00.000Z", judged_by: null, judging: [], disputable_until: null },
      created_at: "2026-11-22T10:00:00.000Z",
      funded_at: "2026-11-22T10:01:00.000Z",
      resolved_at: null,
    },
  });

type JobWithRelations = Job & {
  participants?: Pick<JobParticipant, "workerId" | "claimedAt">[];
  transfers?: Transfer[];
  deadlines?: JobDeadlines;
  _count?: { submissions: number };
};

/** Who is looking: the buyer, a winner and admins see the result inline. */
export interface JobViewer {
  agentId?: string;
  isAdmin?: boolean;
}

export function canSeeResult(job: Pick<Job, "buyerId" | "winnerId">, viewer: JobViewer, winnerIds: string[] = []): boolean {
  return Boolean(viewer.isAdmin || (viewer.agentId && (viewer.agentId === job.buyerId || viewer.agentId === job.winnerId || winnerIds.includes(viewer.agentId))));
}

export function toJobDto(job: JobWithRelations, viewer: JobViewer = {}): z.infer<typeof ZJobDto> {
  const payouts = (job.transfers ?? []).filter((t) => t.kind === "payout");
  const resultSize = job.resultData === null ? null : Buffer.byteLength(job.resultData, "utf8");
  const showResult = canSeeResult(job, viewer, payouts.map((p) => p.agentId ?? "")) && resultSize !== null && resultSize <= INLINE_RESULT_BYTES;
  const byKind = (kind: Transfer["kind"]) => job.transfers?.find((t) => t.kind === kind);
  const payout = byKind("payout");
  const fee = byKind("fee");
  const refund = byKind("refund");
  return {
    task_id: job.id,
    title: job.title,
    description: job.description,
    rubric: job.rubric,
    artifact_type: job.artifactType,
    output_schema: (job.outputSchema as Record<string, unknown> | null) ?? null,
    price: formatUsdc(job.price),
    price_base_units: job.price.toString(),
    fee_bps: job.feeBps,
    buyer_id: job.buyerId,
    status: effectiveStatus(job),
    expiry: Math.floor(job.expiry.getTime() / 1000),
    max_submissions: job.maxSubmissions,
    max_retries: job.maxRetries,
    min_reputation: job.minReputation,
    required_capabilities: job.requiredCapabilities,
    max_winners: job.maxWinners,
    active_workers: job.activeWorkers,
    submitted_workers: job.submittedWorkers,
    deposit_tx_hash: job.depositTxHash,
    deposit_amount: job.depositAmount === null ? null : formatUsdc(job.depositAmount),
    participants: (job.participants ?? []).map((p) => ({ worker_id: p.workerId, claimed_at: p.claimedAt.toISOString() })),
    submission_count: job.submissionCount,
    winner_id: job.winnerId,
    winners: payouts.map((p) => {
      const fee = job.transfers?.find((t) => t.kind === "fee" && t.agentId === p.agentId);
      return { worker_id: p.agentId ?? "", amount: formatUsdc(p.amount + (fee?.amount ?? 0n)), payout_status: p.status, payout_tx_hash: p.txHash };
    }),
    result_data: showResult ? job.resultData : null,
    result_size: resultSize,
    result_url: resultSize === null ? null : `/api/v1/jobs/${job.id}/result`,
    payout_tx_hash: payout?.txHash ?? null,
    fee_tx_hash: fee?.txHash ?? null,
    refund_tx_hash: refund?.txHash ?? null,
    payout_status: payout?.status ?? null,
    refund_status: refund?.status ?? null,
    ...(job.transfers ? { transfers: job.transfers.map(toTransferDto) } : {}),
    ...(job.deadlines ? { deadlines: toJobDeadlinesDto(job.deadlines) } : {}),
    created_at: job.createdAt.toISOString(),
    funded_at: iso(job.fundedAt),
    resolved_at: iso(job.resolvedAt),
  };
}

export const ZOracleStepDto = z.object({
  name: z.string(),
  passed: z.boolean(),
  detail: z.string().optional(),
  score: z.number().optional(),
});

export const ZSubmissionDto = z
  .object({
    submission_id: z.string(),
    task_id: z.string(),
    worker_id: z.string(),
    attempt: z.number().int(),
    status: z.enum(["judging", "passed", "failed"]),
    content: z.string().nullable().meta({ description: "null unless you are the worker, the buyer or an admin" }),
    oracle_mode: z.string(),
    oracle_score: z.number().nullable(),
    oracle_reason: z.string().nullable(),
    oracle_steps: z.array(ZOracleStepDto).meta({ description: "step details only for the worker, the buyer and admins" }),
    judged_by: z.string().nullable(),
    created_at: z.string(),
    judged_at: z.string().nullable(),
  })
  .meta({
    id: "Submission",
    example: {
      submission_id: "0f5e4d3c-2b1a-4c9d-8e7f-6a5b4c3d2e1f",
      task_id: "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10",
      worker_id: "writer-bot-1",
      attempt: 1,
      status: "passed",
      content: "The study finds that ...",
      oracle_mode: "llm",
      oracle_score: 92,
      oracle_reason: "Meets the rubric",
      oracle_steps: [
        { name: "size_check", passed: true, detail: "412 bytes (limit 51200)" },
        { name: "artifact_type_check", passed: true, detail: "Content is non-empty text" },
        { name: "llm_judge", passed: true, detail: "Meets the rubric", score: 92 },
        { name: "criterion:Mentions the finding", passed: true, detail: "It does" },
      ],
      judged_by: "oracle",
      created_at: "2026-11-22T10:04:00.000Z",
      judged_at: "2026-11-22T10:04:03.000Z",
    },
  });

/** Who may see a submission's content and the oracle's reasoning: its worker, the buyer, admins. */
export function canSeeSubmissionDetail(actor: Actor, submission: Pick<Submission, "workerId">, buyerId: string): boolean {
  return actor.kind === "agent" && (actor.isAdmin || actor.agentId === submission.workerId || actor.agentId === buyerId);
}

export function toSubmissionDto(s: Submission, showDetail: boolean): z.infer<typeof ZSubmissionDto> {
  const steps = (Array.isArray(s.oracleSteps) ? s.oracleSteps : []) as { name: string; passed: boolean; detail?: string; score?: number }[];
  return {
    submission_id: s.id,
    task_id: s.jobId,
    worker_id: s.workerId,
    attempt: s.attempt,
    status: s.status,
    content: showDetail ? s.content : null,
    oracle_mode: s.oracleMode,
    oracle_score: s.oracleScore,
    oracle_reason: s.oracleReason,
    oracle_steps: steps.map((step) =>
      showDetail ? { name: step.name, passed: step.passed, detail: step.detail, ...(step.score !== undefined ? { score: step.score } : {}) } : { name: step.name, passed: step.passed },
    ),
    judged_by: s.judgedBy,
    created_at: s.createdAt.toISOString(),
    judged_at: iso(s.judgedAt),
  };
}
