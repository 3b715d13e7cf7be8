import { Prisma } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { effectiveStatusSql } from "~/server/services/jobs/job-transitions";
import { formatUsdc } from "~/server/money";

/** Platform-wide figures (#51). Status counts honour expiry the way job reads do. */
export async function getPlatformStats({ db }: { db: Db }) {
  const [statusRows, money, agents, resolution] = await Promise.all([
    db.$queryRaw<{ status: string; n: bigint }[]>(Prisma.sql`SELECT ${effectiveStatusSql("j")} AS status, count(*) AS n FROM jobs j GROUP BY 1`),
    db.$queryRaw<{ volume: bigint | null; paid: bigint | null; fees: bigint | null; refunded: bigint | null }[]>`
      SELECT
        (SELECT sum(deposit_amount) FROM jobs WHERE deposit_amount IS NOT NULL) AS volume,
        (SELECT sum(amount) FROM transfers WHERE kind = 'payout' AND status = 'success') AS paid,
        (SELECT sum(amount) FROM transfers WHERE kind = 'fee' AND status = 'success') AS fees,
        (SELECT sum(amount) FROM transfers WHERE kind IN ('refund', 'excess_refund') AND status = 'success') AS refunded`,
    db.$queryRaw<{ total: bigint; active: bigint }[]>`SELECT count(*) AS total, count(*) FILTER (WHERE deactivated_at IS NULL) AS active FROM agents`,
    db.$queryRaw<{ median_seconds: number | null }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - funded_at)) AS median_seconds
      FROM jobs WHERE status = 'resolved' AND resolved_at IS NOT NULL AND funded_at IS NOT NULL`,
  ]);
  const jobs = { open: 0, funded: 0, claimed: 0, resolved: 0, expired: 0, cancelled: 0, refunded: 0 };
  for (const row of statusRows) if (row.status in jobs) jobs[row.status as keyof typeof jobs] = Number(row.n);
  const m = money[0]!;
  const median = resolution[0]?.median_seconds;
  return {
    jobs: { ...jobs, total: Object.values(jobs).reduce((a, b) => a + b, 0) },
    volume: formatUsdc(m.volume ?? 0n),
    payouts: formatUsdc(m.paid ?? 0n),
    fees: formatUsdc(m.fees ?? 0n),
    refunds: formatUsdc(m.refunded ?? 0n),
    agents: { total: Number(agents[0]?.total ?? 0), active: Number(agents[0]?.active ?? 0) },
    median_time_to_resolution_seconds: median === null || median === undefined ? null : Math.round(Number(median)),
  };
}
