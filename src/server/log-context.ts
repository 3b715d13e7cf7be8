import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What every log line written inside a unit of work carries without being told: the request it
 * serves (or that caused the background work), who acts, and which job, submission or transfer
 * it is about. The HTTP server opens a context per request, the background runners one per run
 * (restoring the request id the work was queued under, src/server/jobs/client.ts), and code that
 * learns more on the way adds to it, so services never pass ids around for logging.
 */
export interface LogContext {
  /** The X-Request-Id of the request, or of the request that caused this background work. */
  requestId?: string;
  /** Who made the request: "agent", "owner" or "anonymous" (set once credentials are read). */
  actor?: "agent" | "owner" | "anonymous";
  agentId?: string;
  ownerId?: string;
  /** The marketplace job (task_id). */
  jobId?: string;
  submissionId?: string;
  transferId?: string;
  deliveryId?: string;
  /** Background work: the function (catalogue key), its run in the queue, and which attempt. */
  fn?: string;
  workId?: string;
  attempt?: number;
}

const storage = new AsyncLocalStorage<LogContext>();

/** The fields of the current unit of work; empty outside any. */
export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** Runs `fn` in a context made of the current one and `fields` (the current one is unchanged). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/** Runs `fn` in a context of exactly `fields`, whatever surrounds it (a new unit of work). */
export function withFreshLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...fields }, fn);
}

/**
 * Adds fields to the current context, seen by every line written from here to its end. Only for
 * facts about the whole unit of work (the request's actor, the job a background run is about);
 * anything narrower goes in withLogContext, so code that handles many jobs in one run does not
 * label later lines with an earlier job.
 */
export function addLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}

/**
 * Runs `fn` outside any context. For process-wide things started lazily inside a request (the
 * background runner, connection pools, listeners): their later callbacks would otherwise carry
 * that first request's ids forever.
 */
export function outsideLogContext<T>(fn: () => T): T {
  return storage.exit(fn);
}
