import { Inngest } from "inngest";
import { backgroundFunctions } from "./catalog";
import { splitWorkData, type Dispatcher } from "./client";
import { withFreshLogContext } from "~/server/log-context";
import type { BackgroundFunctionDefinition } from "./define";
import { allBackgroundFunctions } from "./functions";

// The same definitions pg-boss runs, served to Inngest at /api/inngest when Inngest is configured.

export const inngest = new Inngest({ id: "agent-market" });

export function toInngestFunction(fn: BackgroundFunctionDefinition) {
  const spec = backgroundFunctions[fn.key];
  const trigger = "cron" in spec ? { cron: spec.cron } : { event: spec.name };
  return inngest.createFunction(
    { id: spec.name.replaceAll("/", "-"), retries: Math.min(fn.maxAttempts - 1, 20) as 0, triggers: [trigger] },
    async ({ event, step, attempt, runId }) => {
      // The request id the work was queued under travels in the event's data beside the payload.
      // Step bodies too: the SDK may run them from its own executor, outside the handler's call.
      const { payload, context } = splitWorkData(event.data);
      const logContext = { ...context, fn: fn.key, workId: runId, attempt: attempt + 1 };
      return withFreshLogContext(logContext, () =>
        fn.handler({
          payload: spec.payload.parse(payload) as never,
          step: { run: (name, body) => step.run(name, () => withFreshLogContext(logContext, body)) as never },
          attempt: attempt + 1,
          maxAttempts: fn.maxAttempts,
        }),
      );
    },
  );
}

export const inngestFunctions = allBackgroundFunctions.map(toInngestFunction);

export const inngestDispatcher: Dispatcher = {
  async send(name, payload, opts) {
    // No event id: Inngest drops repeated ids for 24 h, which would swallow the sweep's re-sends.
    // Handlers are idempotent, so a duplicate delivery is harmless. A ts in the future makes
    // Inngest start the run then (a webhook delivery's next attempt).
    await inngest.send({ name, data: payload as Record<string, unknown>, ...(opts.startAfter ? { ts: opts.startAfter.getTime() } : {}) });
  },
};
