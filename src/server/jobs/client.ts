import { log } from "~/server/log";
import { currentLogContext, type LogContext } from "~/server/log-context";
import { backgroundFunctions, type BackgroundFunctionKey, type BackgroundPayload } from "./catalog";

/** Where enqueued work goes: pg-boss (default) or Inngest. Set by whichever runner started. */
export interface Dispatcher {
  send(name: string, payload: unknown, opts: EnqueueOptions): Promise<void>;
}

export interface EnqueueOptions {
  /** At most one copy of this work waits in the queue (pg-boss; Inngest ignores it). */
  singletonKey?: string;
  /** Not before this time: durable in the queue (pg-boss startAfter, Inngest's event ts). */
  startAfter?: Date;
}

const globalForJobs = globalThis as unknown as { __agentMarketDispatcher?: Dispatcher; __agentMarketDispatcherFactory?: () => Promise<Dispatcher> };

export function setDispatcher(dispatcher: Dispatcher | undefined): void {
  globalForJobs.__agentMarketDispatcher = dispatcher;
}

/** True when this process runs background workers (set by the pg-boss runner). */
export function isRunnerActive(): boolean {
  return Boolean((globalThis as { __agentMarketWorkersRunning?: boolean }).__agentMarketWorkersRunning);
}

export function setRunnerActive(active: boolean): void {
  (globalThis as { __agentMarketWorkersRunning?: boolean }).__agentMarketWorkersRunning = active;
}

export function getCurrentDispatcher(): Dispatcher | undefined {
  return globalForJobs.__agentMarketDispatcher;
}

/** Lets a process that runs no workers (e.g. a serverless route) still enqueue. */
export function setDispatcherFactory(factory: () => Promise<Dispatcher>): void {
  globalForJobs.__agentMarketDispatcherFactory = factory;
}

async function getDispatcher(): Promise<Dispatcher> {
  if (globalForJobs.__agentMarketDispatcher) return globalForJobs.__agentMarketDispatcher;
  const factory = globalForJobs.__agentMarketDispatcherFactory;
  if (!factory) throw new Error("No background runner is configured in this process");
  globalForJobs.__agentMarketDispatcher = await factory();
  return globalForJobs.__agentMarketDispatcher;
}

/**
 * Queue a background function. Callers enqueue after their transaction commits; if this
 * fails, the periodic sweep finds the work from the database rows and enqueues it again.
 */
export async function enqueue<K extends BackgroundFunctionKey>(
  key: K,
  payload: BackgroundPayload<K>,
  opts: EnqueueOptions = {},
): Promise<void> {
  const fn = backgroundFunctions[key];
  const parsed = fn.payload.parse(payload);
  const dispatcher = await getDispatcher();
  await dispatcher.send(fn.name, withWorkContext(parsed), opts);
}

/**
 * Beside the payload, under a key no payload schema declares, the queued work carries the id of
 * the request that caused it; the runner restores it around the handler (splitWorkData), so the
 * lines the work logs carry it too. Payload schemas are plain z.object: they drop unknown keys,
 * so nothing that validates a payload sees it.
 */
export const WORK_CONTEXT_KEY = "_context";

export interface WorkContext {
  requestId?: string;
}

function withWorkContext(payload: object): object {
  const requestId = currentLogContext()?.requestId;
  return requestId ? { ...payload, [WORK_CONTEXT_KEY]: { requestId } satisfies WorkContext } : payload;
}

const PAYLOAD_IDS = ["submissionId", "transferId", "deliveryId"] as const;

/**
 * Queued data back into the payload, and the log context of its run: the request id it was
 * queued under and the ids its payload names.
 */
export function splitWorkData(data: unknown): { payload: Record<string, unknown>; context: LogContext } {
  if (!data || typeof data !== "object") return { payload: {}, context: {} };
  const { [WORK_CONTEXT_KEY]: raw, ...payload } = data as Record<string, unknown>;
  const context: LogContext = {};
  const requestId = raw && typeof raw === "object" ? (raw as WorkContext).requestId : undefined;
  if (typeof requestId === "string" && requestId.length <= 128) context.requestId = requestId;
  for (const name of PAYLOAD_IDS) if (typeof payload[name] === "string") context[name] = payload[name];
  return { payload, context };
}

/** Enqueue without failing the caller: the sweep is the safety net. */
export function enqueueSafely<K extends BackgroundFunctionKey>(key: K, payload: BackgroundPayload<K>, opts?: EnqueueOptions): Promise<void> {
  return enqueue(key, payload, opts).catch((err: unknown) => {
    // `fn` is the running work's (from the log context); this names the one that was not queued.
    log.warn("enqueue failed; the sweep will retry", { enqueuing: key, error: String(err) });
  });
}
