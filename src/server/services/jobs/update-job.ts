import { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { assertAcceptableOutputSchema } from "~/server/oracle/output-schema";
import { assertBuyer, isWorkable, lockJob, recordJobEvent } from "./job-state";
import { normalizeTags } from "./create-job";

export interface UpdateJobInput {
  title?: string;
  description?: string;
  rubric?: string;
  /** Unix seconds. */
  expiry?: number;
  maxSubmissions?: number | null;
  maxRetries?: number | null;
  minReputation?: number;
  requiredCapabilities?: string[];
  /** null removes the schema. */
  outputSchema?: Record<string, unknown> | null;
}

const FIELD_NAMES: Record<keyof UpdateJobInput, string> = {
  title: "title",
  description: "description",
  rubric: "rubric",
  expiry: "expiry",
  maxSubmissions: "max_submissions",
  maxRetries: "max_retries",
  minReputation: "min_reputation",
  requiredCapabilities: "required_capabilities",
  outputSchema: "output_schema",
};

/**
 * The buyer edits a job (G11): anything while it is open; once money is in, only a later
 * expiry, so workers never find the task changed under them. Each edit is kept in the job's
 * event log with the old and new values.
 */
export async function updateJob({ db, env, actor, jobId, input }: { db: Db; env: Env; actor: { agentId: string }; jobId: string; input: UpdateJobInput }) {
  // Compiling a schema takes a worker up to SCHEMA_CHECK_TIMEOUT_MS: done before the job row is locked.
  if (input.outputSchema) await assertAcceptableOutputSchema(input.outputSchema, { timeoutMs: env.SCHEMA_CHECK_TIMEOUT_MS });
  return db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    assertBuyer(job, actor, "update it");
    const fields = (Object.keys(input) as (keyof UpdateJobInput)[]).filter((k) => input[k] !== undefined);
    if (fields.length === 0) throw new AppError("VALIDATION_FAILED", "body: name at least one field to change", { field: "body" });
    if (isWorkable(job.status)) {
      const locked = fields.filter((f) => f !== "expiry");
      if (locked.length > 0) {
        throw new AppError("JOB_NOT_OPEN", `${FIELD_NAMES[locked[0]!]}: can only change while the job is open; a funded job may only get a later expiry`, {
          field: FIELD_NAMES[locked[0]!],
          status: job.status,
        });
      }
    } else if (job.status !== "open") {
      throw new AppError("JOB_NOT_OPEN", `Job is ${job.status}; it can no longer be changed`, { status: job.status });
    }
    if (typeof input.maxSubmissions === "number" && input.maxSubmissions < job.maxWinners) {
      throw new AppError("VALIDATION_FAILED", `max_submissions: cannot be less than this job's max_winners (${job.maxWinners})`, { field: "max_submissions" });
    }
    const data: Prisma.JobUpdateInput = {};
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (input.expiry !== undefined) {
      const expiry = new Date(input.expiry * 1000);
      if (expiry.getTime() <= Date.now()) throw new AppError("EXPIRY_IN_PAST", "expiry: must be a unix time (seconds) in the future", { field: "expiry" });
      if (isWorkable(job.status) && expiry.getTime() <= job.expiry.getTime()) {
        throw new AppError("VALIDATION_FAILED", "expiry: a funded job's expiry can only move later", { field: "expiry" });
      }
      data.expiry = expiry;
      changes.expiry = { from: Math.floor(job.expiry.getTime() / 1000), to: input.expiry };
    }
    for (const key of ["title", "description", "rubric", "maxSubmissions", "maxRetries", "minReputation"] as const) {
      if (input[key] !== undefined) {
        (data as Record<string, unknown>)[key] = input[key];
        changes[FIELD_NAMES[key]] = { from: job[key], to: input[key] };
      }
    }
    if (input.outputSchema !== undefined) {
      if (input.outputSchema !== null && job.artifactType !== "json") {
        throw new AppError("VALIDATION_FAILED", "output_schema: only allowed when artifact_type is json", { field: "output_schema" });
      }
      data.outputSchema = input.outputSchema === null ? Prisma.DbNull : (input.outputSchema as Prisma.InputJsonValue);
      changes.output_schema = { from: job.outputSchema, to: input.outputSchema };
    }
    if (input.requiredCapabilities !== undefined) {
      data.requiredCapabilities = normalizeTags(input.requiredCapabilities);
      changes.required_capabilities = { from: job.requiredCapabilities, to: data.requiredCapabilities };
    }
    const updated = await tx.job.update({ where: { id: jobId }, data });
    await recordJobEvent(tx, jobId, "updated", { actor: actor.agentId, data: changes as Prisma.InputJsonValue });
    return updated;
  });
}
