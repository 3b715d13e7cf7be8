import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "~/server/services/jobs/job-state";

export async function getSubmission({ db, submissionId }: { db: Db; submissionId: string }) {
  const submission = isUuid(submissionId)
    ? await db.submission.findUnique({ where: { id: submissionId }, include: { job: { select: { buyerId: true } } } })
    : null;
  if (!submission) throw new AppError("SUBMISSION_NOT_FOUND", `Submission '${submissionId}' not found`);
  return submission;
}

export async function listJobSubmissions({ db, jobId, limit, offset }: { db: Db; jobId: string; limit: number; offset: number }) {
  const job = isUuid(jobId) ? await db.job.findUnique({ where: { id: jobId }, select: { id: true, buyerId: true } }) : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const [submissions, total] = await Promise.all([
    db.submission.findMany({ where: { jobId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take: limit, skip: offset }),
    db.submission.count({ where: { jobId } }),
  ]);
  return { job, submissions, total };
}
