import type { TransferStatus } from "~/generated/prisma/client";
import type { Db } from "~/server/db";
import { assertManagesAgent, type ManagingActor } from "./assert-manages-agent";
import { getAgent } from "./get-agent";

export interface AgentEarning {
  jobId: string;
  title: string;
  /** The winner's share of the price before the platform fee: net + fee. */
  gross: bigint;
  fee: bigint;
  /** What the payout sends to the agent's wallet. */
  net: bigint;
  status: TransferStatus;
  txHash: string | null;
  paidAt: Date | null;
}

interface EarningRow {
  task_id: string;
  title: string;
  net: bigint;
  fee: bigint;
  status: TransferStatus;
  tx_hash: string | null;
  confirmed_at: Date | null;
}

/**
 * What an agent has earned, per job it won (#28), newest first. Read from the transfer records:
 * each win writes one payout row (net, to the agent) and at most one fee row (to the treasury)
 * for the same (job, agent), so gross is their sum. Totals count only payouts confirmed on
 * chain; pending, failed and skipped (no wallet) rows are listed with their status but not summed.
 * Only the agent itself and admins may read it.
 */
export async function listAgentEarnings({
  db,
  actor,
  agentId,
  limit,
  offset,
}: {
  db: Db;
  actor: ManagingActor;
  agentId: string;
  limit: number;
  offset: number;
}) {
  assertManagesAgent(actor, await getAgent({ db, agentId }), "read its earnings");
  const [rows, [totals]] = await Promise.all([
    db.$queryRaw<EarningRow[]>`
      SELECT p.task_id, j.title, p.amount AS net, COALESCE(f.amount, 0)::bigint AS fee, p.status, p.tx_hash, p.confirmed_at
      FROM transfers p
      JOIN jobs j ON j.task_id = p.task_id
      LEFT JOIN transfers f ON f.task_id = p.task_id AND f.agent_id = p.agent_id AND f.kind = 'fee'
      WHERE p.agent_id = ${agentId} AND p.kind = 'payout'
      ORDER BY p.created_at DESC, p.id DESC
      LIMIT ${limit} OFFSET ${offset}`,
    db.$queryRaw<{ rows: bigint; paid_count: bigint; paid_net: bigint }[]>`
      SELECT count(*) AS rows,
             count(*) FILTER (WHERE status = 'success') AS paid_count,
             COALESCE(sum(amount) FILTER (WHERE status = 'success'), 0)::bigint AS paid_net
      FROM transfers
      WHERE agent_id = ${agentId} AND kind = 'payout'`,
  ]);
  const earnings: AgentEarning[] = rows.map((r) => ({
    jobId: r.task_id,
    title: r.title,
    gross: r.net + r.fee,
    fee: r.fee,
    net: r.net,
    status: r.status,
    txHash: r.tx_hash,
    paidAt: r.confirmed_at,
  }));
  return {
    earnings,
    total: Number(totals?.rows ?? 0),
    paidCount: Number(totals?.paid_count ?? 0),
    paidNetTotal: totals?.paid_net ?? 0n,
  };
}
