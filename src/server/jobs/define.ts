import type { BackgroundFunctionKey, BackgroundPayload } from "./catalog";

/** What a handler can do between steps; pg-boss runs steps inline, Inngest memoises them. */
export interface StepTools {
  run<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface HandlerContext<K extends BackgroundFunctionKey> {
  payload: BackgroundPayload<K>;
  step: StepTools;
  /** 1 on the first try. */
  attempt: number;
  maxAttempts: number;
}

export interface BackgroundFunctionDefinition<K extends BackgroundFunctionKey = BackgroundFunctionKey> {
  key: K;
  /** Tries in all, including the first. */
  maxAttempts: number;
  /** How many may run at once in one process (pg-boss workers; Inngest has its own limits). */
  concurrency: number;
  /**
   * The most one attempt may take (pg-boss). Past it the attempt is abandoned and retried, so a
   * handler that hangs cannot hold a worker or its work for good. Defaults to 5 minutes.
   */
  timeoutSeconds?: number;
  handler: (ctx: HandlerContext<K>) => Promise<unknown>;
}

export function defineBackgroundFunction<K extends BackgroundFunctionKey>(definition: BackgroundFunctionDefinition<K>): BackgroundFunctionDefinition<K> {
  return definition;
}

/** Raised by a handler when the attempt should be retried later (the runner decides when). */
export class RetryableError extends Error {}
