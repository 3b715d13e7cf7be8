import type pg from "pg";
import { instanceAliveSql } from "~/server/process-presence";

/**
 * Who is running a piece of background work right now, so a process that died mid-way never
 * holds it up. Whether the holder is alive is read from its presence connection
 * (src/server/process-presence.ts), not from heartbeats that would go stale only after a timeout.
 *
 * Before a handler runs, the runner takes the lease on the work's key (the function and its
 * singleton key). It gets it when nobody holds it, when this process holds it, or when the
 * holder's connection is gone: work orphaned by a killed process is taken over by the next
 * attempt, which the start-up sweep queues at once. A holder that is alive keeps it, and the
 * duplicate attempt completes without running (the holder's own retries finish the work).
 */
type Queryable = Pick<pg.Pool, "query">;

export async function takeWorkLease(db: Queryable, key: string, instanceId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO work_leases (key, instance_id, started_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET instance_id = EXCLUDED.instance_id, started_at = now()
     WHERE work_leases.instance_id = EXCLUDED.instance_id OR NOT ${instanceAliveSql("work_leases.instance_id")}
     RETURNING key`,
    [key, instanceId],
  );
  return rowCount === 1;
}

export async function releaseWorkLease(db: Queryable, key: string, instanceId: string): Promise<void> {
  await db.query(`DELETE FROM work_leases WHERE key = $1 AND instance_id = $2`, [key, instanceId]);
}

/** Leases whose holder died and whose work nobody retried (it finished elsewhere): the sweep drops them. */
export async function dropDeadWorkLeases(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM work_leases l WHERE NOT ${instanceAliveSql("l.instance_id")} AND l.started_at < now() - interval '1 minute'`,
  );
  return rowCount ?? 0;
}
