import type { Db } from "~/server/db";
import { AppError } from "~/server/errors";
import { isUuid } from "./job-state";

export async function getJob({ db, jobId }: { db: Db; jobId: string }) {
  const job = isUuid(jobId)
    ? await db.job.findUnique({
        where: { id: jobId },
        include: {
          participants: { where: { unclaimedAt: null }, select: { workerId: true, claimedAt: true }, orderBy: { claimedAt: "asc" } },
          transfers: { orderBy: { createdAt: "asc" } },
          _count: { select: { submissions: true } },
        },
      })
    : null;
  if (!job) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  return job;
}
