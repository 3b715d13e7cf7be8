import type { Db } from "~/server/db";

/** Recorded runs, newest first: the console's banner reads the first. */
export async function listReconciliationRuns({ db, limit, offset }: { db: Db; limit: number; offset: number }) {
  const [runs, total] = await Promise.all([db.reconciliationRun.findMany({ orderBy: { startedAt: "desc" }, take: limit, skip: offset }), db.reconciliationRun.count()]);
  return { runs, total };
}
