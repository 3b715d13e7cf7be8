import type { BackgroundFunctionDefinition } from "~/server/jobs/define";
import { evaluateSubmissionFunction } from "./evaluate-submission";
import { sendTransferFunction } from "./send-transfer";
import { reconcileFunction } from "./reconcile";
import { sweepFunction } from "./sweep";
import { deliverWebhookFunction, dispatchWebhooksFunction } from "./webhooks";

// Only runners import this list: services enqueue by name through ~/server/jobs/client.
export const allBackgroundFunctions: BackgroundFunctionDefinition[] = [
  evaluateSubmissionFunction as unknown as BackgroundFunctionDefinition,
  sendTransferFunction as unknown as BackgroundFunctionDefinition,
  sweepFunction as unknown as BackgroundFunctionDefinition,
  dispatchWebhooksFunction as unknown as BackgroundFunctionDefinition,
  deliverWebhookFunction as unknown as BackgroundFunctionDefinition,
  reconcileFunction as unknown as BackgroundFunctionDefinition,
];
