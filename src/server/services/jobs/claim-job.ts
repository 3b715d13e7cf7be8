import { randomUUID } from "node:crypto";
import { Prisma } from "~/generated/prisma/client";
import { sqlQuery, withSqlTransaction } from "~/server/db-sql";
import { AppError } from "~/server/errors";
import { NO_WALLET_WARNING } from "~/server/services/agents/register-agent";
import { publishJobEventsAfterCommit } from "~/server/services/events/publish-job-events";
import { WEBHOOK_EVENT_BY_KIND } from "~/server/services/webhooks/events";
import { effectiveStatus, isUuid, isWorkable, notWorkableError } from "./job-state";
import { insertJobEventsSql, jobEventRow, transitionEventRow } from "./job-transitions";
import { rowToJob, type JobRow } from "./list-jobs";

// Claims are the hottest write (many agents racing for the same jobs), so this transaction runs
// on the plain pg pool in four statements instead of through Prisma's interactive transaction,
// which cost about twice the Node CPU per claim (docs/performance.md). It shares the state
// machine's definitions, not the driver: the job row is locked first, then the worker's row;
// funded -> claimed on the first worker is JOB_TRANSITIONS.claim, and its event rows are built
// by the same functions transitionJob and recordJobEvent use (job-transitions.ts).

interface WorkerRow {
  agent_id: string;
  reputation: number;
  capabilities: string[] | null;
  wallet_address: string | null;
  deactivated_at: Date | null;
}

interface ParticipantRow {
  id: string;
  task_id: string;
  worker_id: string;
  claimed_at: Date;
  unclaimed_at: Date | null;
  inserted: boolean;
}

/** A registered, active agent other than the buyer joins a funded job as a worker. */
export async function claimJob({ actor, jobId }: { actor: { agentId: string }; jobId: string }) {
  if (!isUuid(jobId)) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
  const outcome = await withSqlTransaction(async (client) => {
    const [jobRow] = await sqlQuery<JobRow>(Prisma.sql`SELECT * FROM jobs WHERE task_id = ${jobId}::uuid FOR UPDATE`, client);
    if (!jobRow) throw new AppError("JOB_NOT_FOUND", `Job '${jobId}' not found`);
    const job = rowToJob({ ...jobRow, participants: null });
    // Past its expiry the job reads as expired (the sweep records the transition).
    const status = effectiveStatus(job);
    if (!isWorkable(status)) throw notWorkableError(status, "only a funded job can be claimed");
    // The worker's row is locked for the update below (jobs_claimed): a deactivation then waits
    // for this claim and releases it. Not FOR SHARE: two claims by one agent would each hold a
    // share lock and deadlock upgrading it.
    const [worker] = await sqlQuery<WorkerRow>(
      Prisma.sql`SELECT agent_id, reputation, capabilities, wallet_address, deactivated_at FROM agents WHERE agent_id = ${actor.agentId} FOR NO KEY UPDATE`,
      client,
    );
    if (!worker || worker.deactivated_at) throw new AppError("AGENT_NOT_FOUND", `Agent '${actor.agentId}' is not an active registered agent`);
    if (job.buyerId === worker.agent_id) throw new AppError("SELF_CLAIM", "A buyer cannot claim their own job");
    if (worker.reputation < job.minReputation) {
      throw new AppError("REPUTATION_TOO_LOW", `Reputation ${worker.reputation} is below this job's min_reputation ${job.minReputation}`, {
        reputation: worker.reputation,
        min_reputation: job.minReputation,
      });
    }
    const capabilities = worker.capabilities ?? [];
    const missing = job.requiredCapabilities.filter((tag) => !capabilities.includes(tag));
    if (missing.length > 0) {
      throw new AppError("MISSING_CAPABILITIES", `This job requires capabilities you have not declared: ${missing.join(", ")}`, { missing_capabilities: missing });
    }

    const now = new Date();
    // A worker who left may come back: the same row, claimed again. An active claim matches
    // neither branch, so no row comes back.
    const [participant] = await sqlQuery<ParticipantRow>(
      Prisma.sql`
        INSERT INTO job_participants (id, task_id, worker_id, claimed_at) VALUES (${randomUUID()}::uuid, ${jobId}::uuid, ${worker.agent_id}, ${now.toISOString()}::timestamp)
        ON CONFLICT (task_id, worker_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at, unclaimed_at = NULL
          WHERE job_participants.unclaimed_at IS NOT NULL
        RETURNING id, task_id, worker_id, claimed_at, unclaimed_at, (xmax = 0) AS inserted`,
      client,
    );
    if (!participant) throw new AppError("ALREADY_CLAIMED", "You have already claimed this job");

    // funded -> claimed on the first worker: the transition and its event as JOB_TRANSITIONS
    // defines them (transitionJob writes the same row through Prisma).
    const claimed = job.status === "funded" ? transitionEventRow("claim", job.status, { actor: worker.agent_id }) : null;
    const events = [...(claimed ? [claimed] : []), jobEventRow("worker_claimed", { actor: worker.agent_id })];
    const [updated] = await sqlQuery<JobRow>(
      Prisma.sql`
        WITH counted AS (
          UPDATE agents SET jobs_claimed = jobs_claimed + 1, updated_at = ${now.toISOString()}::timestamp
          WHERE agent_id = ${worker.agent_id} AND ${participant.inserted}
        ), logged AS (
          ${insertJobEventsSql(jobId, events, now)}
        )
        UPDATE jobs SET active_workers = active_workers + 1, status = ${claimed?.toStatus ?? job.status}::"JobStatus", updated_at = ${now.toISOString()}::timestamp
        WHERE task_id = ${jobId}::uuid
        RETURNING *`,
      client,
    );
    // funded -> claimed is a webhook event (job.claimed): published once this commits.
    if (events.some((row) => WEBHOOK_EVENT_BY_KIND[row.kind])) await publishJobEventsAfterCommit(client);
    return { job: rowToJob({ ...updated!, participants: null }), participant, walletAddress: worker.wallet_address };
  });
  const { job, participant, walletAddress } = outcome;
  return {
    job,
    participant: { id: participant.id, jobId: participant.task_id, workerId: participant.worker_id, claimedAt: participant.claimed_at, unclaimedAt: participant.unclaimed_at },
    warnings: walletAddress ? [] : [NO_WALLET_WARNING],
  };
}
