import { z } from "zod";

// Names and payloads of every background function. Services enqueue through this catalogue
// (via ./client); only the runners load the handlers, so services never import a handler.
export const backgroundFunctions = {
  evaluateSubmission: {
    name: "oracle/evaluate-submission",
    payload: z.object({ submissionId: z.string().uuid() }),
  },
  sendTransfer: {
    name: "payouts/send-transfer",
    payload: z.object({ transferId: z.string().uuid() }),
  },
  dispatchWebhooks: {
    name: "webhooks/dispatch",
    payload: z.object({}),
  },
  deliverWebhook: {
    name: "webhooks/deliver",
    payload: z.object({ deliveryId: z.string().uuid() }),
  },
  sweep: {
    name: "maintenance/sweep",
    payload: z.object({}),
    // Expires due jobs, re-enqueues stuck submissions, unsent transfers and webhook deliveries.
    cron: "* * * * *",
  },
  reconcile: {
    name: "maintenance/reconcile",
    payload: z.object({}),
    // Books against chain; records the run and alerts admins on new drift.
    cron: "*/15 * * * *",
  },
} as const;

export type BackgroundFunctionKey = keyof typeof backgroundFunctions;
export type BackgroundPayload<K extends BackgroundFunctionKey> = z.infer<(typeof backgroundFunctions)[K]["payload"]>;
