import type { Db } from "~/server/db";
import type { Env } from "~/env";
import { AppError } from "~/server/errors";
import { enqueueSafely } from "~/server/jobs/client";
import { isWorkable, lockJob, notWorkableError, recordJobEvent } from "./job-state";

export const MAX_CONTENT_BYTES = 50 * 1024;

/** A participant delivers work; it is judged in the background (the caller answers 202). */
export async function submitWork({ db, env, actor, jobId, content }: { db: Db; env: Env; actor: { agentId: string }; jobId: string; content: string }) {
  const bytes = Buffer.byteLength(content, "utf8");
  if (bytes > MAX_CONTENT_BYTES) {
    throw new AppError("CONTENT_TOO_LARGE", `content: ${bytes} bytes is over the ${MAX_CONTENT_BYTES}-byte limit`, { field: "content", bytes, limit: MAX_CONTENT_BYTES });
  }
  const submission = await db.$transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!isWorkable(job.status)) throw notWorkableError(job.status, "work can only be submitted to a funded job");
    const participant = await tx.jobParticipant.findUnique({ where: { jobId_workerId: { jobId, workerId: actor.agentId } } });
    if (!participant || participant.unclaimedAt) throw new AppError("NOT_A_PARTICIPANT", "Claim the job before submitting work");
    const [jobCount, workerCount] = await Promise.all([
      tx.submission.count({ where: { jobId } }),
      tx.submission.count({ where: { jobId, workerId: actor.agentId } }),
    ]);
    if (job.maxSubmissions !== null && jobCount >= job.maxSubmissions) {
      throw new AppError("SUBMISSION_LIMIT_REACHED", `This job accepts at most ${job.maxSubmissions} submissions`, { max_submissions: job.maxSubmissions });
    }
    if (job.maxRetries !== null && workerCount >= job.maxRetries) {
      throw new AppError("RETRY_LIMIT_REACHED", `You have used all ${job.maxRetries} attempts on this job`, { max_retries: job.maxRetries });
    }
    await tx.job.update({ where: { id: jobId }, data: { submissionCount: { increment: 1 }, ...(workerCount === 0 ? { submittedWorkers: { increment: 1 } } : {}) } });
    const created = await tx.submission.create({
      data: { jobId, workerId: actor.agentId, attempt: workerCount + 1, content, status: "judging", oracleMode: env.oracleMode },
    });
    await recordJobEvent(tx, jobId, "submission_received", { actor: actor.agentId, data: { submission_id: created.id, attempt: created.attempt } });
    return created;
  });
  await enqueueSafely("evaluateSubmission", { submissionId: submission.id }, { singletonKey: submission.id });
  return submission;
}
