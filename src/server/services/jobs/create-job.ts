import type { Db } from "~/server/db";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { formatUsdc, parseUsdc } from "~/server/money";
import { assertAcceptableOutputSchema } from "~/server/oracle/output-schema";
import { recordJobEvent } from "./job-state";

export const ARTIFACT_TYPES = ["text", "json", "code", "markdown", "url"] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

export interface CreateJobInput {
  title: string;
  description: string;
  rubric: string;
  price: string | number;
  artifactType: ArtifactType;
  outputSchema?: Record<string, unknown>;
  /** Unix seconds. */
  expiry: number;
  maxSubmissions?: number;
  maxRetries?: number;
  minReputation?: number;
  feeBps?: number;
  maxWinners?: number;
  requiredCapabilities?: string[];
}

export async function createJob({ db, env, buyerId, input }: { db: Db; env: Env; buyerId: string; input: CreateJobInput }) {
  let price: bigint;
  try {
    price = parseUsdc(input.price);
  } catch (err) {
    throw new AppError("VALIDATION_FAILED", `price: ${(err as Error).message}`, { field: "price" });
  }
  const minimum = parseUsdc(env.MIN_TASK_AMOUNT);
  if (price < minimum) {
    throw new AppError("PRICE_TOO_LOW", `price: must be at least ${formatUsdc(minimum)} USDC`, { field: "price", minimum: formatUsdc(minimum) });
  }
  const expiry = new Date(input.expiry * 1000);
  if (expiry.getTime() <= Date.now()) {
    throw new AppError("EXPIRY_IN_PAST", "expiry: must be a unix time (seconds) in the future", { field: "expiry" });
  }
  if (input.outputSchema !== undefined) {
    if (input.artifactType !== "json") {
      throw new AppError("VALIDATION_FAILED", "output_schema: only allowed when artifact_type is json", { field: "output_schema" });
    }
    await assertAcceptableOutputSchema(input.outputSchema, { timeoutMs: env.SCHEMA_CHECK_TIMEOUT_MS });
  }
  if (input.maxSubmissions !== undefined && input.maxWinners !== undefined && input.maxWinners > input.maxSubmissions) {
    throw new AppError("VALIDATION_FAILED", "max_winners: cannot be more than max_submissions", { field: "max_winners" });
  }
  return db.$transaction(async (tx) => {
    const job = await tx.job.create({
    data: {
      title: input.title,
      description: input.description,
      rubric: input.rubric,
      artifactType: input.artifactType,
      outputSchema: input.outputSchema as object | undefined,
      price,
      feeBps: input.feeBps ?? env.PLATFORM_FEE_BPS,
      buyerId,
      expiry,
      maxSubmissions: input.maxSubmissions ?? null,
      maxRetries: input.maxRetries ?? null,
      minReputation: input.minReputation ?? 0,
      maxWinners: input.maxWinners ?? 1,
      requiredCapabilities: normalizeTags(input.requiredCapabilities ?? []),
    },
    });
    await recordJobEvent(tx, job.id, "created", { actor: buyerId, to: "open" });
    return job;
  });
}

/** Capability tags are compared case-insensitively; stored lower-case and unique. */
export function normalizeTags(tags: string[]): string[] {
  return [...new Set(tags.map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
}
