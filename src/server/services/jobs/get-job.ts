import { Prisma, type Transfer, type TransferKind, type TransferStatus } from "~/generated/prisma/client";
import { parseJsonTimestamp, sqlQuery } from "~/server/db-sql";
import { AppError } from "~/server/errors";
import { isUuid } from "./job-state";
import { rowToJob, type JobRow } from "./list-jobs";
import { jobDeadlines, type JobDeadlineSettings } from "./job-deadlines";

interface TransferJson {
  id: string;
  task_id: string;
  kind: TransferKind;
  idempotency_key: string;
  agent_id: string | null;
  to_address: string | null;
  amount: string;
  status: TransferStatus;
  tx_hash: string | null;
  nonce: number | null;
  block_number: string | null;
  error: string | null;
  attempts: number;
  auto_retries: number;
  next_retry_at: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  confirmed_at: string | null;
}

const utc = (value: string | null) => (value === null ? null : parseJsonTimestamp(value));

function toTransfer(t: TransferJson): Transfer {
  return {
    id: t.id,
    jobId: t.task_id,
    kind: t.kind,
    idempotencyKey: t.idempotency_key,
    agentId: t.agent_id,
    toAddress: t.to_address,
    amount: BigInt(t.amount),
    status: t.status,
    txHash: t.tx_hash,
    nonce: t.nonce,
    // Signed transaction bytes never leave the server.
    signedTx: null,
    replacedTxHashes: [],
    blockNumber: t.block_number === null ? null : BigInt(t.block_number),
    error: t.error,
    attempts: t.attempts,
    autoRetries: t.auto_retries,
    nextRetryAt: utc(t.next_retry_at),
    createdAt: utc(t.created_at)!,
    updatedAt: utc(t.updated_at)!,
    sentAt: utc(t.sent_at),
    confirmedAt: utc(t.confirmed_at),
  };
}

interface JudgingJson {
  id: string;
  oracle_mode: string;
  oracle_steps: unknown;
  created_at: string;
}

/**
 * One job with its active participants, its transfers and its deadlines (jobDeadlines), in a
 * single statement (a hot read).
 */
export async function getJob({ jobId, settings }: { jobId: string; settings: JobDeadlineSettings }) {
  const rows = isUuid(jobId)
    ? await sqlQuery<JobRow & { transfers: TransferJson[] | null; judging: JudgingJson[] | null }>(Prisma.sql`
        SELECT j.*,
          (SELECT json_agg(json_build_object('worker_id', p.worker_id, 'claimed_at', p.claimed_at) ORDER BY p.claimed_at)
             FROM job_participants p WHERE p.task_id = j.task_id AND p.unclaimed_at IS NULL) AS participants,
          (SELECT json_agg(json_build_object(
              'id', t.id, 'task_id', t.task_id, 'kind', t.kind, 'idempotency_key', t.idempotency_key, 'agent_id', t.agent_id,
              'to_address', t.to_address, 'amount', t.amount::text, 'status', t.status, 'tx_hash', t.tx_hash, 'nonce', t.nonce,
              'block_number', t.block_number::text, 'error', t.error, 'attempts', t.attempts, 'auto_retries', t.auto_retries, 'next_retry_at', t.next_retry_at, 'created_at', t.created_at, 'updated_at', t.updated_at,
              'sent_at', t.sent_at, 'confirmed_at', t.confirmed_at) ORDER BY t.created_at, t.id)
             FROM transfers t WHERE t.task_id = j.task_id) AS transfers,
          (SELECT json_agg(json_build_object('id', s.id, 'oracle_mode', s.oracle_mode, 'oracle_steps', s.oracle_steps, 'created_at', s.created_at) ORDER BY s.created_at, s.id)
             FROM submissions s WHERE s.task_id = j.task_id AND s.status = 'judging') AS judging
        FROM jobs j WHERE j.task_id = ${jobId}::uuid`)
    : [];
  const row = rows[0];
  if (!row) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const job = rowToJob(row);
  const transfers = (row.transfers ?? []).map(toTransfer);
  const judging = (row.judging ?? []).map((s) => ({ id: s.id, oracleMode: s.oracle_mode, oracleSteps: s.oracle_steps, createdAt: parseJsonTimestamp(s.created_at) }));
  return { ...job, transfers, deadlines: jobDeadlines({ job, judging, transfers, settings }) };
}
