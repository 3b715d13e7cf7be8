import { randomUUID } from "node:crypto";
import pg from "pg";
import { log } from "~/server/log";

/**
 * Whether the process that holds some work is still alive, answered by Postgres itself: each app
 * process keeps one connection open whose `application_name` is `agent-market:<instance id>`, and
 * Postgres ends that session the moment the process dies (its socket closes). A row that names
 * its holder's instance (a work lease, an idempotency key in flight) can therefore be taken over
 * at once after a crash, instead of after a timeout.
 */
export const PRESENCE_APPLICATION_NAME_PREFIX = "agent-market:";

interface Presence {
  instanceId: string;
  stop(): Promise<void>;
}

const globalForPresence = globalThis as unknown as { __agentMarketPresence?: Presence };

/** This process's instance id once its presence connection was started, else undefined. */
export function processInstanceId(): string | undefined {
  return globalForPresence.__agentMarketPresence?.instanceId;
}

/** SQL: true while the process with the instance id in `column` is alive. */
export function instanceAliveSql(column: string): string {
  return `EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '${PRESENCE_APPLICATION_NAME_PREFIX}' || ${column})`;
}

/**
 * Opens this process's presence connection (once per process; later calls return the same). A
 * lost connection is opened again with backoff; meanwhile other processes may take over this
 * one's work, which every such takeover is written to tolerate (the work is idempotent).
 */
export async function startProcessPresence(databaseUrl: string): Promise<Presence> {
  if (globalForPresence.__agentMarketPresence) return globalForPresence.__agentMarketPresence;
  const instanceId = randomUUID();
  let client: pg.Client | undefined;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl, application_name: `${PRESENCE_APPLICATION_NAME_PREFIX}${instanceId}` });
    const lost = (err?: Error) => {
      if (stopped || client !== next) return;
      client = undefined;
      log.warn("presence connection lost; reconnecting", { error: String(err ?? "connection ended") });
      next.end().catch(() => undefined);
      scheduleReconnect();
    };
    next.on("error", lost);
    next.on("end", () => lost());
    client = next;
    await next.connect();
    failures = 0;
  };
  const scheduleReconnect = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((err) => {
        client = undefined;
        log.warn("presence connection could not connect", { error: String(err) });
        scheduleReconnect();
      });
    }, Math.min(30_000, 500 * 2 ** failures++));
    retry.unref();
  };
  await connect();
  const presence: Presence = {
    instanceId,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      globalForPresence.__agentMarketPresence = undefined;
      await client?.end().catch(() => undefined);
    },
  };
  globalForPresence.__agentMarketPresence = presence;
  return presence;
}

/** Closes this process's presence connection, if it has one (tests, shutdown). */
export async function stopProcessPresence(): Promise<void> {
  await globalForPresence.__agentMarketPresence?.stop();
}
