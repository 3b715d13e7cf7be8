import type { JobStatus, Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";

export interface ListJobsInput {
  status?: JobStatus;
  buyerId?: string;
  workerId?: string;
  limit: number;
  offset: number;
}

/** Status filter that agrees with effectiveStatus: a job past its expiry counts as expired. */
export function statusWhere(status: JobStatus, now: Date): Prisma.JobWhereInput {
  if (status === "open" || status === "funded") return { status, expiry: { gt: now } };
  if (status === "expired") {
    return { OR: [{ status: "expired" }, { status: { in: ["open", "funded"] }, expiry: { lte: now } }] };
  }
  return { status };
}

export async function listJobs({ db, input }: { db: Db; input: ListJobsInput }) {
  const now = new Date();
  const where: Prisma.JobWhereInput = {
    ...(input.status ? statusWhere(input.status, now) : {}),
    ...(input.buyerId ? { buyerId: input.buyerId } : {}),
    ...(input.workerId ? { participants: { some: { workerId: input.workerId, unclaimedAt: null } } } : {}),
  };
  const [jobs, total] = await Promise.all([
    db.job.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: input.limit,
      skip: input.offset,
      include: { participants: { where: { unclaimedAt: null }, select: { workerId: true, claimedAt: true } }, _count: { select: { submissions: true } } },
    }),
    db.job.count({ where }),
  ]);
  return { jobs, total };
}
